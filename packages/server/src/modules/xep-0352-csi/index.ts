// XEP-0352 Client State Indication: a client says whether its user is looking (<active/>) or not (<inactive/>).
// While a client is inactive, presence updates and chat states wait, only the latest per contact (importance.ts),
// and go out together when it becomes active again — or before anything urgent, so the client sees everything in
// the order it was sent. The stream's outbound filter (ctx.c2s.registerOutboundFilter) holds them before
// 'session/sending', so XEP-0198 counts a held stanza only once it is written.
import { z } from 'zod';
import { NS, StreamError, xml, type XmlElement } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import type { ClientStream } from '../../core/client-stream';
import type { Session } from '../../core/sessions';
import { holdKey } from './importance';

const options = z.strictObject({
  max_held: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(100)
    .describe('Stanzas (distinct contacts’ presences and chat states) held for an inactive client; one more sends them all'),
});
type CsiOptions = z.output<typeof options>;

/** What an inactive client has not been sent yet, by contact; a Map keeps insertion order. */
interface ClientState {
  inactive: boolean;
  held: Map<string, XmlElement>;
}

export default defineModule<CsiOptions>({
  name: 'csi',
  specs: [{ spec: 'XEP-0352', version: '1.0.0', status: 'complete', note: 'holds presence updates and chat states, the latest per contact, while inactive' }],
  options: options as unknown as z.ZodType<CsiOptions>,
  setup(ctx) {
    const { max_held: maxHeld } = ctx.options;
    const states = new WeakMap<Session, ClientState>();

    // §4.1: the feature is offered to authenticated streams.
    ctx.on('stream/features', ({ features }) => {
      features.push(xml('csi', { xmlns: NS.CSI }));
    });

    // §4.2: <active/> and <inactive/> are top-level elements, not stanzas (XEP-0198 does not count them).
    ctx.c2s.registerStreamElement(NS.CSI, (el, stream) => {
      if (el.name === 'inactive') {
        const state = states.get(stream);
        if (state) state.inactive = true;
        else states.set(stream, { inactive: true, held: new Map() });
      } else if (el.name === 'active') {
        const state = states.get(stream);
        if (state) {
          state.inactive = false;
          flush(stream, state);
        }
      } else {
        stream.close(new StreamError('unsupported-stanza-type', `<${el.name}/> is not a client state`));
      }
    });

    ctx.c2s.registerOutboundFilter((stanza, session) => {
      const state = states.get(session);
      if (!state) return 'send';
      const key = state.inactive ? holdKey(stanza, session.jid.bare()) : undefined;
      if (key === undefined) {
        // §5.1 keeps the client's order: what waited goes first.
        flush(session, state);
        return 'send';
      }
      // Only the latest per contact: the older one is dropped and the newer goes to the end of the line.
      state.held.delete(key);
      state.held.set(key, stanza);
      if (state.held.size > maxHeld) flush(session, state);
      return 'hold';
    });

    // §5.2: a resumed stream starts active, like any new stream; what waited is written after <resumed/> and the
    // stanzas stream management resends, which follow this event in the same tick.
    ctx.on('session/resumed', ({ session }) => {
      const state = states.get(session);
      if (!state) return;
      state.inactive = false;
      queueMicrotask(() => flush(session, state));
    });

    function flush(session: ClientStream, state: ClientState): void {
      if (state.held.size === 0) return;
      const held = [...state.held.values()];
      state.held.clear();
      for (const stanza of held) session.release(stanza);
    }
  },
});
