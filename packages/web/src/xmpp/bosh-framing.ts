// The BOSH transport's pieces that need no browser (tested in Node): the random first rid and the RFC 7395 <open/>
// frame that stands for the stream header of a BOSH session.
import { NS } from '@parley/protocol';

export function escapeAttr(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** A random starting rid (XEP-0124 §7.1: large, random, and far enough from 2^53 for the session to run on). */
export function initialRid(random: () => number = Math.random): number {
  return Math.floor(random() * 2 ** 32) + 1;
}

/** The RFC 7395 <open/> frame xmpp.js expects, from a BOSH session creation (or restart) response. */
export function openFrame(attrs: { from?: string | null; id?: string | null }): string {
  const from = attrs.from ? ` from='${escapeAttr(attrs.from)}'` : '';
  const id = attrs.id ? ` id='${escapeAttr(attrs.id)}'` : '';
  return `<open xmlns='${NS.FRAMING}'${from}${id} version='1.0'/>`;
}

