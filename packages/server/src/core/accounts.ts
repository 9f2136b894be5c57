// Accounts on the main host: creation with SCRAM keys (RFC 5802; the password itself is never stored),
// password changes, deletion (modules clean their data on 'account/deleted'), and a small existence cache
// because every message to a bare JID asks "does this user exist?" (RFC 6121 §8.5.1).
import { Jid, JidError, SaslFailure, normalizeLocal } from '@parley/protocol';
import type { AccountStore, Credentials } from '../storage/types';
import { AccountExistsError } from '../storage/types';
import { SaslPrepError, deriveCredentials, deriveFromPrepared, hasWeakerKeys } from '../stream/sasl/credentials';
import type { Hooks } from './hooks';
import type { ServerEvents } from './events';

export class AccountError extends Error {
  constructor(
    readonly code: 'exists' | 'not-found' | 'invalid-username' | 'invalid-password',
    message: string,
  ) {
    super(message);
  }
}

/** Says why an authenticated account may not log in now (a SaslFailure), or nothing. Modules add these. */
export type LoginCheck = (username: string) => Promise<SaslFailure | undefined>;

export class AccountService {
  private readonly known = new Set<string>();
  private readonly loginChecks = new Set<LoginCheck>();

  constructor(
    readonly host: string,
    private readonly store: AccountStore,
    private readonly hooks: Hooks<ServerEvents>,
    private readonly scramIterations: number,
    /** Told after an account was deleted (cluster nodes drop it from their existence cache). */
    private readonly deleted: (username: string) => void = () => {},
  ) {}

  /** Another node deleted this account. */
  forget(username: string): void {
    this.known.delete(username);
  }

  /** Normalises a username (RFC 7622 localpart); throws AccountError('invalid-username'). */
  normalize(username: string): string {
    try {
      return normalizeLocal(username);
    } catch (err) {
      if (err instanceof JidError) throw new AccountError('invalid-username', `invalid username '${username}': ${err.message}`);
      throw err;
    }
  }

  /** Known to exist without asking storage (seen since start): lets the delivery path stay synchronous. */
  isKnown(username: string): boolean {
    return this.known.has(username);
  }

  async exists(username: string): Promise<boolean> {
    if (this.known.has(username)) return true;
    const account = await this.store.get(this.host, username);
    if (account) this.known.add(username);
    return account !== undefined;
  }

  /** A module's say in who may log in (XEP-0133 §4.3 disabled accounts); disposing removes it. */
  addLoginCheck(check: LoginCheck): { dispose(): void } {
    this.loginChecks.add(check);
    return { dispose: () => this.loginChecks.delete(check) };
  }

  /**
   * After the mechanism proved the credentials, and before <success/> (both SASL profiles): a deleted account is
   * not-authorized, and any login check may refuse with its own RFC 6120 §6.5 condition (account-disabled …).
   */
  async assertMayLogIn(username: string): Promise<void> {
    if (!(await this.exists(username))) throw new SaslFailure('not-authorized');
    for (const check of this.loginChecks) {
      const failure = await check(username);
      if (failure) throw failure;
    }
  }

  async getCredentials(username: string): Promise<Credentials | undefined> {
    return (await this.store.get(this.host, username))?.credentials;
  }

  async create(username: string, password: string): Promise<Jid> {
    const user = this.normalize(username);
    const credentials = await this.derive(password);
    try {
      await this.store.create(this.host, user, credentials);
    } catch (err) {
      if (err instanceof AccountExistsError) throw new AccountError('exists', `user ${user}@${this.host} already exists`);
      throw err;
    }
    this.known.add(user);
    const jid = Jid.of(user, this.host);
    await this.hooks.fire('account/created', { username: user, host: this.host, jid });
    return jid;
  }

  async setPassword(username: string, password: string): Promise<void> {
    const user = this.normalize(username);
    const credentials = await this.derive(password);
    if (!(await this.store.setCredentials(this.host, user, credentials))) {
      throw new AccountError('not-found', `no user ${user}@${this.host}`);
    }
    await this.hooks.fire('account/password-changed', { username: user, host: this.host, jid: Jid.of(user, this.host) });
  }

  /**
   * Re-derives keys made with fewer iterations than auth.scram_iterations from a password PLAIN just verified
   * (`prepared`, the form that matched, so SCRAM clients keep deriving the same keys). SCRAM never shows the server the
   * password, so PLAIN logins and password changes are the only chances (Prosody's internal_hashed does the same).
   * A compare-and-set against the keys that were verified: a password changed meanwhile wins. The password is the
   * same, so no 'account/password-changed' (which would revoke FAST tokens). Returns whether keys were replaced.
   */
  async upgradeCredentials(username: string, prepared: string, verified: Credentials): Promise<boolean> {
    if (!hasWeakerKeys(verified, this.scramIterations)) return false;
    const credentials = await deriveFromPrepared(prepared, this.scramIterations);
    return this.store.setCredentials(this.host, username, credentials, verified);
  }

  async delete(username: string): Promise<void> {
    const user = await this.storedName(username);
    if (!(await this.store.delete(this.host, user))) throw new AccountError('not-found', `no user ${user}@${this.host}`);
    this.known.delete(user);
    this.deleted(user);
    await this.hooks.fire('account/deleted', { username: user, host: this.host, jid: Jid.of(user, this.host) });
  }

  /**
   * The stored name of an account to delete: the normalised one, or, for a name stored before localparts were
   * UsernameCaseMapped (RFC 8265) that the profile now refuses, that exact name, so that an administrator can
   * still remove such an account (it can no longer log in: its name is not a localpart).
   */
  private async storedName(username: string): Promise<string> {
    try {
      return this.normalize(username);
    } catch (err) {
      if (err instanceof AccountError && (await this.store.get(this.host, username))) return username;
      throw err;
    }
  }

  private async derive(password: string): Promise<Credentials> {
    checkPassword(password);
    try {
      return await deriveCredentials(password, this.scramIterations);
    } catch (err) {
      if (err instanceof SaslPrepError) throw new AccountError('invalid-password', `unusable password: ${err.message}`);
      throw err;
    }
  }

  list(): Promise<string[]> {
    return this.store.list(this.host);
  }
}

function checkPassword(password: string): void {
  if (password.length === 0) throw new AccountError('invalid-password', 'the password must not be empty');
  if (/[\u0000-\u001f\u007f]/.test(password)) throw new AccountError('invalid-password', 'the password contains control characters');
}
