// XEP-0198 §5: the sessions that may be resumed, those waiting for their client to come back (hibernating), and the
// last 'h' of those that ended, so that a late <resume/> learns which of its stanzas reached the server.
import { randomBytes } from 'node:crypto';
import type { SmState } from './state';

/** How long an ended resumable session's 'h' is remembered, and for how many sessions at most. */
const REMEMBER_ENDED_MS = 60 * 60_000;
const REMEMBER_ENDED_MAX = 10_000;

export interface HibernationLimits {
  /** Server-wide; past it the longest-waiting session ends. */
  maxHibernating: number;
  maxHibernatingPerAccount: number;
}

export type Lookup = { found: SmState } | { found: undefined; h: number | undefined };

export class Resumptions {
  private readonly byId = new Map<string, SmState>();
  /** Longest-waiting first. */
  private readonly hibernating = new Set<SmState>();
  private readonly ended = new Map<string, { account: string; h: number; until: number }>();

  constructor(
    private readonly limits: HibernationLimits,
    /** Ends a session whose window is over or that has to make room. */
    private readonly terminate: (sm: SmState) => void,
  ) {}

  /** §5: an SM-ID that cannot be guessed and is never reused; whose it is gets checked on <resume/>. */
  add(sm: SmState, windowSeconds: number): void {
    sm.id = randomBytes(18).toString('base64url');
    sm.window = windowSeconds;
    this.byId.set(sm.id, sm);
  }

  /** A session resumed from another cluster node keeps its SM-ID (§5: <resumed/> names it). */
  adopt(sm: SmState, id: string, windowSeconds: number): void {
    sm.id = id;
    sm.window = windowSeconds;
    this.byId.set(id, sm);
  }

  hibernate(sm: SmState): void {
    this.hibernating.delete(sm);
    this.hibernating.add(sm);
    clearTimeout(sm.hibernation);
    sm.hibernatingSince = Date.now();
    sm.hibernation = setTimeout(() => this.terminate(sm), sm.window * 1000);
    sm.hibernation.unref();
    const account = sm.stream.jid.toBareString();
    const ofAccount = [...this.hibernating].filter((s) => s.stream.jid.toBareString() === account);
    if (ofAccount.length > this.limits.maxHibernatingPerAccount) this.terminate(ofAccount[0]!);
    if (this.hibernating.size > this.limits.maxHibernating) this.terminate(this.hibernating.values().next().value!);
  }

  /** The session is resumed (or ends): it waits no longer. */
  wake(sm: SmState): void {
    clearTimeout(sm.hibernation);
    sm.hibernatingSince = undefined;
    this.hibernating.delete(sm);
  }

  /**
   * §5, §9: only the account that enabled it may resume a session. Another account's SM-ID is as unknown as a wrong
   * one, and learns nothing; the account itself learns the 'h' of its session that ended.
   */
  lookup(previd: string, account: string): Lookup {
    const sm = this.byId.get(previd);
    if (sm && !sm.ended && sm.stream.jid.toBareString() === account) return { found: sm };
    const gone = this.ended.get(previd);
    return { found: undefined, h: gone && gone.account === account && gone.until > Date.now() ? gone.h : undefined };
  }

  /** The session ended: its SM-ID is no longer resumable, and its 'h' is remembered. */
  forget(sm: SmState): void {
    this.wake(sm);
    if (sm.id === undefined) return;
    this.byId.delete(sm.id);
    // Resumed on another cluster node, it is not over: a later <resume/> here asks where it is now.
    if (sm.movedAway) return;
    const now = Date.now();
    for (const [key, entry] of this.ended) {
      if (entry.until > now && this.ended.size < REMEMBER_ENDED_MAX) break;
      this.ended.delete(key);
    }
    this.ended.set(sm.id, { account: sm.stream.jid.toBareString(), h: sm.inbound, until: now + REMEMBER_ENDED_MS });
  }

  stop(): void {
    for (const sm of this.hibernating) clearTimeout(sm.hibernation);
  }
}
