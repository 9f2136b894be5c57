// XEP-0050 §3.2 session lifetime: a sessionid is valid for one requester and one command until the command
// completes, is canceled or times out; ended ids are remembered for a while so a late request gets
// <session-expired/> rather than <bad-sessionid/> (§4.4).
import { randomBytes } from 'node:crypto';
import type { Jid } from '@parley/protocol';

interface OpenSession {
  requester: string;
  node: string;
  timer: NodeJS.Timeout;
}

/** Ended ids remembered for <session-expired/>; older ones fall back to <bad-sessionid/>. */
const REMEMBER_ENDED = 1000;

export class CommandSessions {
  private readonly active = new Map<string, OpenSession>();
  private readonly ended = new Set<string>();

  constructor(
    private readonly timeoutMs: number,
    private readonly maxPerRequester: number,
  ) {}

  private static newId(): string {
    return `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
  }

  /** Starts a session; undefined when the requester already holds too many. */
  open(requester: Jid, node: string): string | undefined {
    const who = requester.toString();
    let held = 0;
    for (const s of this.active.values()) if (s.requester === who) held++;
    if (held >= this.maxPerRequester) return undefined;
    const id = CommandSessions.newId();
    const timer = setTimeout(() => this.end(id), this.timeoutMs);
    timer.unref();
    this.active.set(id, { requester: who, node, timer });
    return id;
  }

  /** An id for a command that completes in one step (§4.1: the responder initialises sessionid). */
  oneShot(): string {
    const id = CommandSessions.newId();
    this.remember(id);
    return id;
  }

  check(id: string, requester: Jid, node: string): 'ok' | 'expired' | 'unknown' {
    const s = this.active.get(id);
    if (s) return s.requester === requester.toString() && s.node === node ? 'ok' : 'unknown';
    return this.ended.has(id) ? 'expired' : 'unknown';
  }

  end(id: string): void {
    const s = this.active.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    this.active.delete(id);
    this.remember(id);
  }

  clear(): void {
    for (const s of this.active.values()) clearTimeout(s.timer);
    this.active.clear();
    this.ended.clear();
  }

  get size(): number {
    return this.active.size;
  }

  private remember(id: string): void {
    this.ended.add(id);
    if (this.ended.size > REMEMBER_ENDED) this.ended.delete(this.ended.values().next().value!);
  }
}
