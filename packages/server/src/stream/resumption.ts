// XEP-0198 §5 on client streams: a session outliving its transport, and resuming on another stream's transport.
// Stream management itself is a module (modules/xep-0198-sm): it decides whether an interrupted session is kept
// ('session/interrupted') and which session a <resume/> asks for; here the stream side does what it decided. The
// transport moves between machines with StreamMachine.adopt().
import type { Jid } from '@parley/protocol';
import type { ParleyServer } from '../core/server';
import type { ClientStream } from '../core/client-stream';
import { StreamMachine } from './stream-machine';

/** A client stream of this node that can be resumed, or resume another (C2sSession). */
export interface ResumableStream extends ClientStream {
  readonly machine: StreamMachine;
  readonly isAuthenticated: boolean;
  readonly account: Jid;
  /** RFC 6120 §4.7.4: the default language the client declared on its stream. */
  readonly lang: string | undefined;
  /** Takes over what the client declared on `from`'s stream, whose transport this session now uses. */
  continueFrom(from: ResumableStream): void;
}

function isResumable(session: ClientStream): session is ResumableStream {
  return 'machine' in session && session.machine instanceof StreamMachine;
}

/**
 * The transport of a bound session was lost without a closing tag: whether a module keeps the session, detached,
 * to be resumed (XEP-0198 §5 hibernation). Without a handler it ends at once.
 */
export function sessionInterrupted(server: ParleyServer, session: ClientStream): boolean | Promise<boolean> {
  if (!server.hooks.has('session/interrupted')) return false;
  return server.hooks.fire('session/interrupted', { session });
}

/**
 * `session` (an earlier session of the same account, detached or still connected) continues on `stream`'s
 * transport; `stream` is done. False when either ended while an authentication with inline resumption awaited
 * storage (XEP-0388).
 */
export function handOver(stream: ResumableStream, session: ClientStream): boolean {
  if (!isResumable(session) || session === stream) throw new Error('only a session of this node can take over a stream');
  if (!stream.isAuthenticated || !session.jid.bare().equals(stream.account)) throw new Error('not the same account');
  if (stream.machine.state === 'closed' || session.machine.state !== 'established') return false;
  session.machine.adopt(stream.machine);
  session.continueFrom(stream);
  return true;
}
