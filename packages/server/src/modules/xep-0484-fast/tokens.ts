// XEP-0484 token bookkeeping, per account and client (user-agent id): the two slots of §6 ('new': issued and not
// used yet; 'current': the one the client used last), expiry, the replay counter of §3.3, and revocation.
// What is stored cannot be used to log in: the HT mechanisms key their HMAC with the token itself, so the server
// must be able to produce it and a one-way hash will not do; instead each token is derived with a keyed MAC from a
// random seed, and only the seed is stored. The MAC key lives in a file of its own (key-file.ts), so a read of the
// database (a backup, an SQL injection elsewhere, a replica) gives no sessions away.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SaslFailure } from '@parley/protocol';
import { KeyedQueue } from '../../core/keyed-queue';
import type { MapStore } from '../../storage/types';
import { htHmac } from '../../stream/sasl/ht';

export interface StoredToken {
  /** §3.3: a token is only good with the mechanism it was requested for. */
  mechanism: string;
  /** Random bytes (base64url) the token is derived from with the server's key (FastTokens.tokenOf). */
  seed: string;
  /** Milliseconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  /** §3.3: the highest <fast count/> accepted with this token; a count not above it is a replay. */
  count?: number;
}

/** §6: at most two live tokens per client, so a check never compares against more than two. */
export interface ClientTokens {
  new?: StoredToken;
  current?: StoredToken;
}

/**
 * Entries written before tokens were derived kept the token itself in a 'token' field. They are dropped, not
 * converted (a derived token cannot be made equal to a given one): their clients fail once with not-authorized and
 * log in with the password again, as XEP-0484 clients do whenever a token is refused.
 */
function isLegacy(t: StoredToken | undefined): boolean {
  return t !== undefined && typeof (t as Partial<StoredToken>).seed !== 'string';
}

/** The entry without legacy slots, and whether any was there. */
function withoutLegacy(entry: ClientTokens): { entry: ClientTokens; changed: boolean } {
  let changed = false;
  for (const slot of ['new', 'current'] as const) {
    if (isLegacy(entry[slot])) {
      delete entry[slot];
      changed = true;
    }
  }
  return { entry, changed };
}

export class FastTokens {
  /** One read-modify-write at a time per client: two logins racing must not both promote or both count. */
  private readonly queue = new KeyedQueue();

  constructor(
    private readonly store: MapStore<ClientTokens>,
    private readonly lifetimeMs: number,
    /** The MAC key tokens are derived with (fast.token_key_file); 32 random bytes. */
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  /** The token a stored seed stands for; 'secret-token:' (RFC 8959) lets secret scanners recognise a leaked one. */
  tokenOf(stored: StoredToken): string {
    const mac = createHmac('sha256', this.key).update('XEP-0484 token\0').update(stored.seed, 'utf8').digest('base64url');
    return `secret-token:fast-${mac}`;
  }

  private async read(owner: string, key: string): Promise<ClientTokens> {
    const { entry, changed } = withoutLegacy((await this.store.get(owner, key)) ?? {});
    if (changed) await this.save(owner, key, entry);
    return entry;
  }

  /** Drops every stored plaintext token left from before tokens were derived (at start, in the background). */
  async purgeLegacy(): Promise<number> {
    let dropped = 0;
    for (const owner of await this.store.owners()) {
      for (const [key, stored] of await this.store.getAll(owner)) {
        if (!isLegacy(stored.new) && !isLegacy(stored.current)) continue;
        await this.run(owner, key, async () => {
          const { entry, changed } = withoutLegacy((await this.store.get(owner, key)) ?? {});
          if (changed) {
            dropped++;
            await this.save(owner, key, entry);
          }
        });
      }
    }
    return dropped;
  }

  /** Store key of a client: a hash, so the store keeps no client identifiers in the clear. */
  private static keyOf(userAgentId: string): string {
    return createHash('sha256').update(userAgentId, 'utf8').digest('hex');
  }

  private run<T>(owner: string, key: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(`${owner}\0${key}`, task);
  }

  private async save(owner: string, key: string, entry: ClientTokens): Promise<void> {
    await this.store.set(owner, key, entry.new || entry.current ? entry : undefined);
  }

  /**
   * §3.2: a new token for the client, put in the 'new' slot. A token issued before and never used is dropped (§3.4:
   * the server SHOULD invalidate them); the one in use stays valid until the client uses the new one (§3.4 MUST).
   */
  issue(owner: string, userAgentId: string, mechanism: string): Promise<StoredToken> {
    const key = FastTokens.keyOf(userAgentId);
    return this.run(owner, key, async () => {
      const entry = await this.read(owner, key);
      const issuedAt = this.now();
      const token: StoredToken = {
        mechanism,
        seed: randomBytes(32).toString('base64url'),
        issuedAt,
        expiresAt: issuedAt + this.lifetimeMs,
      };
      entry.new = token;
      await this.save(owner, key, entry);
      await this.sweep(owner, key);
      return token;
    });
  }

  /**
   * A client that never comes back would keep its entry forever: each issue for an account drops the account's
   * other clients whose tokens have all expired (each under its own client's queue, so no issue races the drop).
   */
  private async sweep(owner: string, except: string): Promise<void> {
    const now = this.now();
    const alive = (t: StoredToken | undefined): boolean => t !== undefined && !isLegacy(t) && t.expiresAt > now;
    const drops: Promise<void>[] = [];
    for (const [key, entry] of await this.store.getAll(owner)) {
      if (key === except || alive(entry.new) || alive(entry.current)) continue;
      drops.push(
        this.run(owner, key, async () => {
          const latest = await this.store.get(owner, key);
          if (latest && !alive(latest.new) && !alive(latest.current)) await this.store.set(owner, key, undefined);
        }),
      );
    }
    await Promise.all(drops);
  }

  /**
   * §3.3 and §6: finds the client's token whose HMAC the client sent, checks mechanism, expiry and replay counter,
   * and promotes a token from 'new' to 'current' (which drops the older one: §3.4, tokens with an earlier expiry are
   * invalidated once a later one is used). Throws SaslFailure.
   */
  verify(
    owner: string,
    userAgentId: string,
    mechanism: string,
    initiatorHash: Buffer,
    cbData: Buffer,
    count: number | undefined,
  ): Promise<StoredToken> {
    const key = FastTokens.keyOf(userAgentId);
    return this.run(owner, key, async () => {
      const entry = await this.read(owner, key);
      let slot: 'new' | 'current' | undefined;
      for (const s of ['new', 'current'] as const) {
        const t = entry[s];
        if (!t) continue;
        // §6: constant-time comparison of the hashes (both are SHA-256 sized: the mechanism checked the client's).
        const matches = timingSafeEqual(htHmac(this.tokenOf(t), 'Initiator', cbData), initiatorHash);
        if (matches && t.mechanism === mechanism && slot === undefined) slot = s;
      }
      if (slot === undefined) throw new SaslFailure('not-authorized');
      const token = entry[slot]!;
      if (token.expiresAt <= this.now()) {
        delete entry[slot];
        await this.save(owner, key, entry);
        // §5 (server responsibilities): a token no longer trusted fails with credentials-expired.
        throw new SaslFailure('credentials-expired', 'the token has expired');
      }
      if (count !== undefined) {
        if (token.count !== undefined && count <= token.count) {
          throw new SaslFailure('not-authorized', 'the count was already used with this token');
        }
        token.count = count;
      }
      if (slot === 'new') {
        entry.current = token;
        delete entry.new;
      }
      await this.save(owner, key, entry);
      return token;
    });
  }

  /** §3.5: the client logs out; none of its tokens is accepted any more. */
  invalidate(owner: string, userAgentId: string): Promise<void> {
    const key = FastTokens.keyOf(userAgentId);
    return this.run(owner, key, () => this.store.set(owner, key, undefined));
  }

  /** Every token of an account (password changed, account deleted). */
  revokeAll(owner: string): Promise<void> {
    return this.store.deleteAll(owner);
  }

  /** A token past half its lifetime is replaced at its next use (§3.4), long before a client could miss its expiry. */
  isDueForRotation(token: StoredToken): boolean {
    return this.now() >= token.issuedAt + (token.expiresAt - token.issuedAt) / 2;
  }
}
