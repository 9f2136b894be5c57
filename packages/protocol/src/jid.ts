// RFC 7622 addresses. Jid is immutable; parse() normalises (PRECIS-style) and rejects what the RFC forbids.

export class JidError extends Error {
  readonly condition = 'jid-malformed' as const;
}

const MAX_PART_BYTES = 1023;
// RFC 7622 §3.3.1: characters the localpart may not contain.
const LOCAL_FORBIDDEN = /["&'/:<>@\s\p{Cc}]/u;
const CONTROL = /\p{Cc}/u;
const encoder = new TextEncoder();

function byteLength(s: string): number {
  return encoder.encode(s).length;
}

export function normalizeLocal(local: string): string {
  // UsernameCaseMapped (RFC 8265 §3.3): width-map (NFKC covers fullwidth forms), lowercase, NFC.
  const out = local.normalize('NFKC').toLowerCase().normalize('NFC');
  if (out.length === 0) throw new JidError('empty localpart');
  if (byteLength(out) > MAX_PART_BYTES) throw new JidError('localpart too long');
  if (LOCAL_FORBIDDEN.test(out)) throw new JidError(`invalid character in localpart '${local}'`);
  return out;
}

export function normalizeDomain(domain: string): string {
  let d = domain.endsWith('.') ? domain.slice(0, -1) : domain; // RFC 7622 §3.2: strip one trailing dot first
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
  // RFC 7622 §3.2.2 (RFC 5895 mappings): fullwidth/halfwidth to their usual forms, ideographic full stops to
  // '.', lowercase, NFC.
  d = d
    .replace(/[\uff01-\uffef]/g, (c) => c.normalize('NFKC'))
    .replace(/[\u3002\uff0e\uff61]/g, '.')
    .toLowerCase()
    .normalize('NFC');
  if (byteLength(d) > MAX_PART_BYTES) throw new JidError('domainpart too long');
  // The URL parser below would read these as port, path, query, userinfo or percent-escapes, or silently drop
  // them (tab, newline), and so validate a different host than the one we keep.
  if (/[\s\p{Cc}@:/?#\\%[\]]/u.test(d)) throw new JidError(`invalid domainpart '${domain}'`);
  // IDNA2008 checks via the WHATWG URL host parser: it rejects forbidden host code points and bad labels.
  let ascii: string;
  try {
    ascii = new URL(`http://${d}/`).hostname;
  } catch {
    throw new JidError(`invalid domainpart '${domain}'`);
  }
  if (
    ascii.length === 0 ||
    /[^a-z0-9.\-_]/.test(ascii) ||
    ascii.split('.').some((l) => l.length === 0 || l.length > 63 || l.startsWith('-') || l.endsWith('-')) ||
    // The URL parser rewrites numeric hosts ('0x7f.1' → '127.0.0.1'); only dotted-decimal IPv4 is a JID domain.
    (/^[0-9.]+$/.test(ascii) && ascii !== d)
  ) {
    throw new JidError(`invalid domainpart '${domain}'`);
  }
  // Keep the U-label form (RFC 7622 §3.2.2 compares U-labels); pure-ASCII domains are unchanged.
  return d;
}

export function normalizeResource(resource: string): string {
  // OpaqueString (RFC 8265 §4.2): non-ASCII spaces to U+0020, NFC, no control characters; case kept.
  const out = resource.replace(/[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g, ' ').normalize('NFC');
  if (out.length === 0) throw new JidError('empty resourcepart');
  if (byteLength(out) > MAX_PART_BYTES) throw new JidError('resourcepart too long');
  if (CONTROL.test(out)) throw new JidError('control character in resourcepart');
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
