// XEP-0045 §7.2.15 discussion history: the last N groupchat messages of a room, sent to a new occupant with an
// XEP-0203 <delay/> from the room. The joiner narrows it with <history/> (maxchars, maxstanzas, seconds,
// since); every limit given applies. The service bounds it twice: by count (the room's
// muc#roomconfig_historylength) and by bytes (muc.max_history_bytes), so that a room's memory does not grow with
// the size of what occupants send. A room without occupants keeps it in storage instead (service.ts).
import { NS, parseXml, xml, XmlElement } from '@parley/protocol';

export interface HistoryEntry {
  /** The message as broadcast (from room/nick, no 'to'), with its <delay/> already added. */
  stanza: XmlElement;
  when: number;
  /** Length of the serialised stanza (§7.2.15: maxchars counts the complete XML). */
  chars: number;
  /** UTF-8 size of the serialised stanza: what the byte bound counts. */
  bytes: number;
}

/** The history as kept in storage while the room is empty: serialised stanzas, oldest first. */
export interface StoredHistory {
  entries: { xml: string; when: number }[];
}

export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  since?: number;
}

/** The service's bounds on a room's history: stanzas (the room's configuration) and bytes (service option). */
export interface HistoryLimits {
  stanzas: number;
  bytes: number;
}

export class HistoryBuffer {
  private entries: HistoryEntry[] = [];
  private totalBytes = 0;

  get size(): number {
    return this.entries.length;
  }

  /** Bytes held (the serialised stanzas). */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Adds a broadcast message, then drops the oldest entries until both limits hold. */
  add(broadcast: XmlElement, room: string, limits: HistoryLimits, when = Date.now()): void {
    if (limits.stanzas <= 0) {
      this.clear();
      return;
    }
    const stanza = new XmlElement(broadcast.name, { ...broadcast.attrs }, broadcast.children.slice());
    // XEP-0203: the room is the entity that delayed it.
    stanza.children.push(xml('delay', { xmlns: NS.DELAY, from: room, stamp: new Date(when).toISOString() }));
    this.push(stanza, when, stanza.toString());
    this.trim(limits);
  }

  /** Drops the oldest entries until both limits hold (after a configuration change, or a load). */
  trim(limits: HistoryLimits): void {
    let drop = Math.max(0, this.entries.length - Math.max(0, limits.stanzas));
    let bytes = this.totalBytes;
    for (let i = 0; i < drop; i++) bytes -= this.entries[i]!.bytes;
    // A single message larger than the byte bound is not kept at all.
    while (drop < this.entries.length && bytes > limits.bytes) bytes -= this.entries[drop++]!.bytes;
    if (drop === 0) return;
    this.entries.splice(0, drop);
    this.totalBytes = bytes;
  }

  clear(): void {
    this.entries = [];
    this.totalBytes = 0;
  }

  /** What storage keeps while the room is empty. */
  toStored(): StoredHistory {
    return { entries: this.entries.map((e) => ({ xml: e.stanza.toString(), when: e.when })) };
  }

  /** Replaces the buffer with stored entries (their <delay/> is already in them), within today's limits. */
  restore(stored: StoredHistory | undefined, limits: HistoryLimits): void {
    this.clear();
    for (const e of stored?.entries ?? []) {
      let stanza: XmlElement;
      try {
        stanza = parseXml(e.xml);
      } catch {
        continue; // a damaged entry is skipped, never fatal to the join
      }
      this.push(stanza, e.when, e.xml);
    }
    this.trim(limits);
  }

  /** The entry whose stanza-id (by the room) is `id`, if the buffer still holds it. */
  find(id: string, room: string): HistoryEntry | undefined {
    return this.entries.find((e) => e.stanza.getChildren('stanza-id', NS.STANZA_ID).some((s) => s.attrs.id === id && s.attrs.by === room));
  }

  /** Replaces an entry's stanza in place (XEP-0425 tombstone), keeping its time; the byte count follows. */
  replace(entry: HistoryEntry, stanza: XmlElement): void {
    const serialised = stanza.toString();
    const bytes = Buffer.byteLength(serialised, 'utf8');
    this.totalBytes += bytes - entry.bytes;
    Object.assign(entry, { stanza, chars: serialised.length, bytes });
  }

  /** The entries a joiner asked for, oldest first. */
  select(req: HistoryRequest, now = Date.now()): HistoryEntry[] {
    let max = req.maxstanzas ?? Infinity;
    const from = Math.max(req.seconds !== undefined ? now - req.seconds * 1000 : -Infinity, req.since ?? -Infinity);
    let chars = 0;
    const out: HistoryEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && max > 0; i--) {
      const e = this.entries[i]!;
      if (e.when < from) break;
      if (req.maxchars !== undefined && chars + e.chars > req.maxchars) break;
      chars += e.chars;
      out.push(e);
      max--;
    }
    return out.reverse();
  }

  private push(stanza: XmlElement, when: number, serialised: string): void {
    const bytes = Buffer.byteLength(serialised, 'utf8');
    this.entries.push({ stanza, when, chars: serialised.length, bytes });
    this.totalBytes += bytes;
  }
}

/** Reads <history/> from the join presence's <x xmlns='…muc'/>; malformed attributes are ignored. */
export function parseHistoryRequest(x: XmlElement | undefined): HistoryRequest {
  const h = x?.getChild('history');
  if (!h) return {};
  const int = (name: string): number | undefined => {
    const v = h.attrs[name];
    if (v === undefined || !/^\d+$/.test(v)) return undefined;
    return Number(v);
  };
  const since = h.attrs.since !== undefined ? Date.parse(h.attrs.since) : NaN;
  return {
    maxchars: int('maxchars'),
    maxstanzas: int('maxstanzas'),
    seconds: int('seconds'),
    since: Number.isNaN(since) ? undefined : since,
  };
}
