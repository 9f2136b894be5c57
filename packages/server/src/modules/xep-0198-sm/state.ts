// The stream management state of one session: the count of stanzas handled from the client and the stanzas sent
// to it that it has not acknowledged yet (XEP-0198 §4). Sequence numbers are xs:unsignedInt and wrap from 2^32-1
// back to 0 (§4), so every comparison here is modular.
import { NS, xml, type XmlElement } from '@parley/protocol';
import type { ClientStream } from '../../core/client-stream';

const H_MODULUS = 2 ** 32;
const UNSIGNED_INT = /^\d{1,10}$/;

/** §4: an 'h' attribute, or undefined when it is missing or not an unsignedInt. */
export function parseH(value: string | undefined): number | undefined {
  if (value === undefined || !UNSIGNED_INT.test(value)) return undefined;
  const h = Number(value);
  return h < H_MODULUS ? h : undefined;
}

export function incrementH(h: number): number {
  return (h + 1) % H_MODULUS;
}

export interface Unacked {
  stanza: XmlElement;
  /** When it was sent (ms since the epoch), for the XEP-0203 stamp on a resent stanza. */
  at: number;
}

export type AckOutcome = 'ok' | 'too-high' | 'stale';

export class SmState {
  /** Stanzas handled from the client: the 'h' of our <a/> and <resumed/>. */
  inbound = 0;
  /** The client's last 'h': stanzas sent to it and acknowledged. */
  acked = 0;
  /** Sent since the last acknowledgement, oldest first. */
  readonly unacked: Unacked[] = [];
  /** An <r/> of ours is unanswered (one at a time, so a slow client is not flooded with requests). */
  awaitingAck = false;
  requestScheduled = false;
  /**
   * The send count our last <r/> asked about: another is only worth sending once more was sent, so a client that
   * counts fewer stanzas than it got (it answers with the same 'h') is not asked again and again (as in Prosody).
   */
  requestedAt: number | undefined;
  /** The SM-ID when the session may be resumed (§5). */
  id: string | undefined;
  /** How long the session waits to be resumed, in seconds (the 'max' of our <enabled/>). */
  window = 0;
  hibernation: NodeJS.Timeout | undefined;
  /** When the connection was lost (ms since the epoch), while the session hibernates. */
  hibernatingSince: number | undefined;
  ended = false;
  /** Resumed on another cluster node: ending here routes nothing elsewhere (that node has the stanzas). */
  movedAway = false;

  constructor(readonly stream: ClientStream) {}

  /** §3/§5: the answer to <enable/>, with the SM-ID and the resumption window when the session is resumable. */
  enabled(): XmlElement {
    const resumable = this.id !== undefined;
    return xml('enabled', { xmlns: NS.SM, id: this.id, resume: resumable ? 'true' : undefined, max: resumable ? String(this.window) : undefined });
  }

  /** §4: the number of stanzas sent since stream management was enabled, modulo 2^32. */
  get sent(): number {
    return (this.acked + this.unacked.length) % H_MODULUS;
  }

  /**
   * What acknowledging up to `h` would mean: 'too-high' claims stanzas never sent (§4, handled-count-too-high);
   * 'stale' is an 'h' below one already acknowledged (reordered or repeated), which acknowledges nothing new.
   */
  check(h: number): AckOutcome {
    return checkAck(this.acked, this.unacked.length, h);
  }

  /** Drops what the client acknowledged; returns the outcome of check(). */
  ack(h: number): AckOutcome {
    const outcome = this.check(h);
    if (outcome !== 'ok') return outcome;
    this.unacked.splice(0, (h - this.acked + H_MODULUS) % H_MODULUS);
    this.acked = h;
    return outcome;
  }
}

/** §4: what acknowledging up to `h` means after `acked` with `waiting` stanzas unacknowledged (SmState.check). */
export function checkAck(acked: number, waiting: number, h: number): AckOutcome {
  const newly = (h - acked + H_MODULUS) % H_MODULUS;
  if (newly <= waiting) return 'ok';
  return newly > H_MODULUS / 2 ? 'stale' : 'too-high';
}
