// Typed events with named priorities (STYLE.md habit 6). Handlers run from the highest priority down;
// a handler that returns true has handled the event and stops the chain (features first, delivery last).

export const Priority = {
  /** Drops or rejects before anyone sees the stanza (limits, validation). */
  Filter: 1000,
  /** Privacy and blocking (XEP-0191). */
  Blocking: 900,
  /** Archiving (XEP-0313) sees what will be delivered. */
  Archive: 500,
  /** Copies to other resources (XEP-0280). */
  Carbons: 400,
  /** Feature handlers that consume a stanza (roster, presence, PEP…). */
  Feature: 300,
  /** Local delivery to sessions. */
  Deliver: 0,
  /** Telling a user with no available client about a message (Web Push), before offline storage keeps it. */
  Notify: -50,
  /** Offline storage and bounces when nothing else took the stanza. */
  Fallback: -100,
} as const;
export type PriorityValue = (typeof Priority)[keyof typeof Priority] | number;

export interface Disposable {
  dispose(): void;
}

export type HookResult = boolean | void;
export type Handler<E> = (event: E) => HookResult | Promise<HookResult>;

interface Entry {
  handler: Handler<any>;
  priority: number;
  seq: number;
}

/** `EventMap` maps event names to payload types; modules extend it by declaration merging. */
export class Hooks<EventMap extends object> {
  private readonly table = new Map<string, Entry[]>();
  private seq = 0;

  on<K extends keyof EventMap & string>(name: K, handler: Handler<EventMap[K]>, priority: PriorityValue = 0): Disposable {
    // Lists are never changed in place (copy on write): a fire() under way keeps iterating the list it started
    // with while a handler registers or disposes, and no fire() has to copy the list (one allocation per stanza
    // and event otherwise).
    const entry: Entry = { handler, priority, seq: this.seq++ };
    const list = [...(this.table.get(name) ?? []), entry];
    // Equal priorities keep registration order, so module load order stays meaningful and stable.
    list.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    this.table.set(name, list);
    return {
      dispose: () => {
        const cur = this.table.get(name);
        if (!cur || !cur.includes(entry)) return;
        this.table.set(name, cur.filter((e) => e !== entry));
      },
    };
  }

  has(name: keyof EventMap & string): boolean {
    return (this.table.get(name)?.length ?? 0) > 0;
  }

  /**
   * Runs synchronous handlers in priority order until one returns true, without the promise fire() costs: for
   * events on the per-stanza path (a room's fan-out sends each copy through 'session/sending'). A handler that
   * returns a promise anyway is not awaited; its rejection is reported to `onError`.
   */
  emit<K extends keyof EventMap & string>(name: K, event: EventMap[K], onError?: (err: unknown) => void): boolean {
    const list = this.table.get(name);
    if (!list) return false;
    for (const entry of list) {
      const r = entry.handler(event);
      if (r === true) return true;
      if (r !== undefined && typeof r !== 'boolean') r.catch((err: unknown) => onError?.(err));
    }
    return false;
  }

  /** Runs handlers in priority order until one returns true; resolves to whether the event was handled. */
  async fire<K extends keyof EventMap & string>(name: K, event: EventMap[K]): Promise<boolean> {
    const list = this.table.get(name);
    if (!list) return false;
    for (const entry of list) {
      let r = entry.handler(event);
      if (r !== undefined && typeof r !== 'boolean') r = await r;
      if (r === true) return true;
    }
    return false;
  }
}
