// The account's own settings: password change (XEP-0077 §3.3) and the block list (XEP-0191).
import { xml, type Client, type Element } from '@xmpp/client';
import { Jid, NS } from '@parley/protocol';
import type { Store } from '../state/store';
import { passwordChangeMessage, updateBlocklist } from './account-rules';

export class PasswordChangeError extends Error {}

function itemsOf(el: Element): string[] {
  return el
    .getChildren('item')
    .map((i) => Jid.tryParse(i.attrs.jid)?.toString())
    .filter((j): j is string => !!j);
}

export class Account {
  constructor(
    private readonly store: Store,
    private readonly xmpp: () => Client | undefined,
  ) {}

  /** Registers the handlers for the server's block list pushes (XEP-0191 §3.3 and §3.4) on a new client. */
  attach(xmpp: Client, ownBare: string): void {
    const fromOwnAccount = (stanza: Element) => {
      const from = stanza.attrs.from;
      return !from || from === ownBare;
    };
    xmpp.iqCallee.set(NS.BLOCKING, 'block', ({ stanza, element }) => {
      if (!fromOwnAccount(stanza)) return undefined;
      this.setBlocked(updateBlocklist(this.store.state.blocked, itemsOf(element), 'block'));
      return true;
    });
    xmpp.iqCallee.set(NS.BLOCKING, 'unblock', ({ stanza, element }) => {
      if (!fromOwnAccount(stanza)) return undefined;
      const items = itemsOf(element);
      // §3.4: an unblock push without items means everything was unblocked.
      this.setBlocked(updateBlocklist(this.store.state.blocked, items, items.length === 0 ? 'unblock-all' : 'unblock'));
      return true;
    });
  }

  private setBlocked(blocked: string[]): void {
    this.store.update((s) => ({ ...s, blocked }));
  }

  /** XEP-0191 §3.2: the block list, once per session. */
  async loadBlocklist(): Promise<void> {
    const xmpp = this.xmpp();
    if (!xmpp) return;
    try {
      const res = await xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('blocklist', { xmlns: NS.BLOCKING })));
      const list = res.getChild('blocklist', NS.BLOCKING);
      this.setBlocked(list ? updateBlocklist([], itemsOf(list), 'block') : []);
    } catch (err) {
      console.warn('blocklist', err);
    }
  }

  /**
   * XEP-0191 §3.3: block `jid`. The server then drops their messages and presence to us and shows us offline to
   * them; the list updates from the server's push, so every device of ours agrees.
   */
  async block(jid: string): Promise<void> {
    await this.xmpp()?.iqCaller.request(xml('iq', { type: 'set' }, xml('block', { xmlns: NS.BLOCKING }, xml('item', { jid }))));
    this.setBlocked(updateBlocklist(this.store.state.blocked, [jid], 'block'));
  }

  /** XEP-0191 §3.4 */
  async unblock(jid: string): Promise<void> {
    await this.xmpp()?.iqCaller.request(xml('iq', { type: 'set' }, xml('unblock', { xmlns: NS.BLOCKING }, xml('item', { jid }))));
    this.setBlocked(updateBlocklist(this.store.state.blocked, [jid], 'unblock'));
  }

  /**
   * XEP-0077 §3.3: a new password for the logged-in account. Throws PasswordChangeError with a readable message.
   * The server revokes every FAST token of the account with the old password (they stood for it), so the caller
   * logs in again with the new one to get a fresh token for this browser.
   */
  async changePassword(newPassword: string): Promise<void> {
    const xmpp = this.xmpp();
    const me = this.store.state.me;
    if (!xmpp || !me) throw new PasswordChangeError('Not connected.');
    if (!newPassword) throw new PasswordChangeError('Enter a new password.');
    const username = Jid.parse(me).local!;
    try {
      await xmpp.iqCaller.request(
        xml('iq', { type: 'set', to: Jid.parse(me).domain }, xml('query', { xmlns: NS.REGISTER }, xml('username', {}, username), xml('password', {}, newPassword))),
        15000,
      );
    } catch (err) {
      const e = err as { condition?: string; text?: string; element?: Element };
      const text = e.element?.getChild('error')?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? e.text ?? undefined;
      throw new PasswordChangeError(passwordChangeMessage(e.condition, text ?? undefined));
    }
  }
}
