// RFC 7622 addresses. Jid is immutable; parse() prepares each part with its PRECIS profile (RFC 8264/8265) or UTS #46
// and rejects what the RFCs forbid.
import { toASCII, toUnicode } from 'tr46';
import { PrecisError, enforceOpaqueString, enforceUsernameCaseMapped } from './precis';

export class JidError extends Error {
  readonly condition = 'jid-malformed' as const;
}

const MAX_PART_BYTES = 1023;
// RFC 7622 §3.3.1: characters the localpart may not contain even though IdentifierClass allows them.
const LOCAL_FORBIDDEN = /["&'/:<>@]/;
const encoder = new TextEncoder();

function byteLength(s: string): number {
  return encoder.encode(s).length;
}

/**
 * RFC 7622 §3.3: the localpart is a UsernameCaseMapped string (RFC 8265 §3.3, precis.ts). That refuses look-alikes
 * built from invisible or compatibility characters (zero-width space, soft hyphen, word joiner, bidi overrides,
 * U+FFFD, fullwidth letters are width-mapped), which a name that merely looked normalised would let through.
 */
export function normalizeLocal(local: string): string {
  let out: string;
  try {
    out = enforceUsernameCaseMapped(local);
  } catch (err) {
    if (err instanceof PrecisError) throw new JidError(`invalid localpart: ${err.message}`);
    throw err;
  }
  if (byteLength(out) > MAX_PART_BYTES) throw new JidError('localpart too long');
  if (LOCAL_FORBIDDEN.test(out)) throw new JidError(`invalid character in localpart '${local}'`);
  return out;
}

// RFC 7622 §3.2 with UTS #46 processing (the mapping RFC 5895 describes, then the IDNA2008 checks: CheckJoiners and
// CheckBidi of RFC 5892/5893). STD3 rules are left to the ASCII check below, which also admits '_' as before.
const UTS46 = { checkBidi: true, checkJoiners: true, checkHyphens: false, useSTD3ASCIIRules: false, transitionalProcessing: false };
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

// A server sees few distinct domains (its own, its services, its peers), and UTS #46 processing costs hundreds of
// µs per call: valid results are memoised like parsed JIDs (below), bounded the same way.
const DOMAIN_CACHE_SIZE = 10_000;
const domainCache = new Map<string, string>();

export function normalizeDomain(domain: string): string {
  const cached = domainCache.get(domain);
  if (cached !== undefined) return cached;
  const out = normalizeDomainUncached(domain);
  if (domainCache.size >= DOMAIN_CACHE_SIZE) domainCache.clear();
  domainCache.set(domain, out);
  return out;
}

function normalizeDomainUncached(domain: string): string {
  const d = domain.endsWith('.') ? domain.slice(0, -1) : domain; // RFC 7622 §3.2: strip one trailing dot first
  if (d.length === 0) throw new JidError('empty domainpart');
  if (d.startsWith('[') && d.endsWith(']')) {
    // RFC 7622 §3.2.1: an IPv6 literal; the URL parser validates it and gives the canonical (compressed) form.
    if (!/^\[[0-9a-fA-F:.]+\]$/.test(d)) throw new JidError('invalid IPv6 literal');
    try {
      return new URL(`http://${d}/`).hostname;
    } catch {
      throw new JidError('invalid IPv6 literal');
    }
  }
  if (byteLength(d) > MAX_PART_BYTES) throw new JidError('domainpart too long');
  // The mapping drops or folds characters (soft hyphen, fullwidth forms, ideographic full stops, case), so the
  // mapped U-label form is what we keep and compare (RFC 7622 §3.2.2): 'exa\u00ADmple.com', 'EXAMPLE.com' and
  // 'xn--...' spellings of one domain are one domain, never look-alikes of it.
  const unicode = toUnicode(d, UTS46);
  const ascii = toASCII(d, { ...UTS46, verifyDNSLength: true });
  if (
    unicode.error ||
    ascii === null ||
    /[^a-z0-9.\-_]/.test(ascii) ||
    ascii.split('.').some((l) => l.length === 0 || l.length > 63 || l.startsWith('-') || l.endsWith('-')) ||
    // RFC 7622 §3.2: an IP address is dotted-decimal IPv4 only. A name whose last label is a number ('1.2.3',
    // '0x7f.1', '2130706433') is neither a host name (no numeric top-level label, RFC 3696 §2) nor an address, and
    // URL parsers elsewhere would read it as one.
    (/(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)$/.test(ascii) && !IPV4.test(ascii))
  ) {
    throw new JidError(`invalid domainpart '${domain}'`);
  }
  return unicode.domain;
}

/** RFC 7622 §3.4: the resourcepart is an OpaqueString (RFC 8265 §4.2): spaces mapped, NFC, case kept. */
export function normalizeResource(resource: string): string {
  let out: string;
  try {
    out = enforceOpaqueString(resource);
  } catch (err) {
    if (err instanceof PrecisError) throw new JidError(`invalid resourcepart: ${err.message}`);
    throw err;
  }
  if (byteLength(out) > MAX_PART_BYTES) throw new JidError('resourcepart too long');
  return out;
}

const PARSE_CACHE_SIZE = 50_000;
const parseCache = new Map<string, Jid>();

export class Jid {
  private str?: string;
  private bareStr?: string;

  private constructor(
    readonly local: string | undefined,
    readonly domain: string,
    readonly resource: string | undefined,
  ) {}

  /** Parses and normalises; throws JidError (→ jid-malformed) on invalid input. */
  static parse(input: string): Jid {
    // Every routed stanza parses 'from' and 'to'; normalisation (NFKC, IDNA checks) is the costly part and
    // the same few thousand addresses recur, so valid results are memoised (Jid is immutable).
    const cached = parseCache.get(input);
    if (cached) return cached;
    const jid = Jid.parseUncached(input);
    if (parseCache.size >= PARSE_CACHE_SIZE) parseCache.clear();
    parseCache.set(input, jid);
    return jid;
  }

  private static parseUncached(input: string): Jid {
    const slash = input.indexOf('/');
    const head = slash === -1 ? input : input.slice(0, slash);
    const resource = slash === -1 ? undefined : input.slice(slash + 1);
    const at = head.indexOf('@');
    const local = at === -1 ? undefined : head.slice(0, at);
    const domain = at === -1 ? head : head.slice(at + 1);
    if (slash !== -1 && resource === '') throw new JidError('empty resourcepart');
    if (at !== -1 && local === '') throw new JidError('empty localpart');
    return new Jid(
      local === undefined ? undefined : normalizeLocal(local),
      normalizeDomain(domain),
      resource === undefined ? undefined : normalizeResource(resource),
    );
  }

  /** Parses, returning undefined instead of throwing. */
  static tryParse(input: string | undefined): Jid | undefined {
    if (input === undefined) return undefined;
    try {
      return Jid.parse(input);
    } catch {
      return undefined;
    }
  }

  /** Builds from parts that are already normalised (from storage or another Jid). */
  static of(local: string | undefined, domain: string, resource?: string): Jid {
    return new Jid(local, domain, resource);
  }

  get isBare(): boolean {
    return this.resource === undefined;
  }

  get isFull(): boolean {
    return this.resource !== undefined;
  }

  /** A domain-only address (a server or a component). */
  get isDomain(): boolean {
    return this.local === undefined && this.resource === undefined;
  }

  bare(): Jid {
    return this.resource === undefined ? this : new Jid(this.local, this.domain, undefined);
  }

  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, normalizeResource(resource));
  }

  /** user@domain (or domain): the key for accounts, rosters and sessions. */
  toBareString(): string {
    return (this.bareStr ??= this.local === undefined ? this.domain : `${this.local}@${this.domain}`);
  }

  toString(): string {
    return (this.str ??= this.resource === undefined ? this.toBareString() : `${this.toBareString()}/${this.resource}`);
  }

  equals(other: Jid | undefined): boolean {
    return other !== undefined && this.toString() === other.toString();
  }

  bareEquals(other: Jid | undefined): boolean {
    return other !== undefined && this.toBareString() === other.toBareString();
  }
}

export function isValidJid(s: string): boolean {
  return Jid.tryParse(s) !== undefined;
}
