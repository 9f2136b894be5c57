// Helpers for the MAM end-to-end tests (not a test file itself).
import type { XmlElement } from '@parley/protocol';
import type { TestClient } from '../../testing/harness';

export const MAM = 'urn:xmpp:mam:2';
export const RSM = 'http://jabber.org/protocol/rsm';
export const SID = 'urn:xmpp:sid:0';

export interface MamAnswer {
  iq: XmlElement;
  results: XmlElement[];
  /** The forwarded messages, in the order received. */
  messages: XmlElement[];
  bodies: string[];
  ids: string[];
  fin: XmlElement | undefined;
  complete: string | undefined;
  first: string | undefined;
  last: string | undefined;
  count: string | undefined;
  error: string | undefined;
}

let seq = 0;

/** A data form with FORM_TYPE urn:xmpp:mam:2 and the given fields. */
export function form(fields: Record<string, string | string[]>): string {
  const f = Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join('')}</field>`)
    .join('');
  return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${MAM}</value></field>${f}</x>`;
}

export function rsm(opts: { max?: number; after?: string; before?: string }): string {
  const max = opts.max !== undefined ? `<max>${opts.max}</max>` : '';
  const after = opts.after !== undefined ? `<after>${opts.after}</after>` : '';
  const before = opts.before === undefined ? '' : opts.before === '' ? '<before/>' : `<before>${opts.before}</before>`;
  return `<set xmlns='${RSM}'>${max}${after}${before}</set>`;
}

/** Sends a MAM query and collects its results (they all arrive before the iq result, §4.3). */
export async function mam(c: TestClient, inner = '', to?: string): Promise<MamAnswer> {
  const queryid = `q${++seq}`;
  const start = c.received.length;
  const toAttr = to ? ` to='${to}'` : '';
  const iq = await c.iq(`<iq type='set'${toAttr}><query xmlns='${MAM}' queryid='${queryid}'>${inner}</query></iq>`);
  const results = c.received
    .slice(start)
    .filter((el) => el.name === 'message' && el.getChild('result', MAM)?.attrs.queryid === queryid)
    .map((el) => el.getChild('result', MAM)!);
  const messages = results.map((r) => r.getChild('forwarded')!.getChild('message')!);
  const fin = iq.getChild('fin', MAM);
  const set = fin?.getChild('set', RSM);
  return {
    iq,
    results,
    messages,
    bodies: messages.map((m) => m.getChildText('body') ?? ''),
    ids: results.map((r) => r.attrs.id!),
    fin,
    complete: fin?.attrs.complete,
    first: set?.getChildText('first'),
    last: set?.getChildText('last'),
    count: set?.getChildText('count'),
    error: iq.getChild('error')?.elements()[0]?.name,
  };
}

/** Sends a chat message and waits until the recipient has it (so both archives hold it). */
export async function chat(from: TestClient, to: TestClient, body: string, extra = ''): Promise<XmlElement> {
  const bare = to.jid.split('/')[0]!;
  const got = to.waitFor((el) => el.name === 'message' && el.getChildText('body') === body);
  await from.send(`<message to='${bare}' type='chat' id='${body.replace(/\W/g, '')}'><body>${body}</body>${extra}</message>`);
  return got;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
