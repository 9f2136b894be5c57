// XEP-0045 §7.2.15 discussion history: the last N groupchat messages of a room, kept in memory and sent to a
// new occupant with an XEP-0203 <delay/> from the room. The joiner narrows it with <history/> (maxchars,
// maxstanzas, seconds, since); every limit given applies.
import { NS, xml, XmlElement } from '@parley/protocol';

export interface HistoryEntry {
  /** The message as broadcast (from room/nick, no 'to'), with its <delay/> already added. */
  stanza: XmlElement;
  when: number;
  /** Length of the serialised stanza (§7.2.15: maxchars counts the complete XML). */
  chars: number;
}

export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  since?: number;
}

export class HistoryBuffer {
  private entries: HistoryEntry[] = [];

  get size(): number {
    return this.entries.length;
  }

  /** Adds a broadcast message; keeps at most `limit` entries (the room's muc#roomconfig_historylength). */
  add(broadcast: XmlElement, room: string, limit: number, when = Date.now()): void {
    if (limit <= 0) {
      this.entries = [];
      return;
    }
    const stanza = new XmlElement(broadcast.name, { ...broadcast.attrs }, broadcast.children.slice());
    // XEP-0203: the room is the entity that delayed it.
    stanza.children.push(xml('delay', { xmlns: NS.DELAY, from: room, stamp: new Date(when).toISOString() }));
    this.entries.push({ stanza, when, chars: stanza.toString().length });
    if (this.entries.length > limit) this.entries.splice(0, this.entries.length - limit);
  }

  /** Trims to a new limit (after a configuration change). */
  trim(limit: number): void {
    if (this.entries.length > limit) this.entries.splice(0, this.entries.length - Math.max(0, limit));
  }

  clear(): void {
    this.entries = [];
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
