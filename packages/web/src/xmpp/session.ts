// The app's XMPP session: xmpp.js over RFC 7395 WebSocket, logged in with a password once and afterwards with a
// FAST token (XEP-0484) kept in localStorage, never the password. It turns stanzas into Store updates (roster,
// presence, chats) and UI actions into stanzas.
import { client, xml, type Client, type Element, type FastToken } from '@xmpp/client';
import { Jid, NS } from '@parley/protocol';
import { bestPresence, emptyChat, type AppState, type Chat, type Contact, type Message, type Show, type Store } from '../state/store';
import { GroupChats } from './groupchat';
import { MessageFeatures, readMessage } from './message-features';
import { integrate, type MessageEdit } from '../state/message-features';
import { invalidateFastToken, isRegistrationAllowed, registerAccount, websocketUrl } from './raw-stream';
import { Account } from './account';
import { Avatars } from './avatars';
import { addBoshTransport, BoshSocket, boshUrl, canOpenWebSocket } from './bosh';

const SESSION_KEY = 'parley.session';
const USER_AGENT_KEY = 'parley.user-agent';
const HISTORY_PAGE = 50;

type ChatState = 'active' | 'composing' | 'paused' | 'inactive' | 'gone';
const CHAT_STATES: ChatState[] = ['active', 'composing', 'paused', 'inactive', 'gone'];

/** What survives a reload: who is logged in and the FAST token, nothing else. */
interface SavedSession {
  jid: string;
  token: FastToken;
}

export class LoginError extends Error {}

function uuid(): string {
  return crypto.randomUUID();
}

export class ChatSession {
  private xmpp?: Client;
  /** The password of the login in progress, in memory only until the server issues a token. */
  private password?: string;
  private loggingOut = false;
  /** XEP-0045 rooms and XEP-0402 bookmarks. */
  readonly groups: GroupChats;
  /** Password change and the block list. */
  readonly account: Account;
  /** XEP-0084 / XEP-0153 avatars. */
  readonly avatars: Avatars;
  /** The endpoint in use: the WebSocket, or BOSH once the WebSocket failed to connect from this page. */
  private service?: string;
  /** Replies, corrections, retractions, reactions and files (XEP-0461, 0308, 0424, 0444, 0363). */
  readonly features: MessageFeatures;

  constructor(
    private readonly store: Store,
    private readonly storage: Storage = localStorage,
    private readonly url: string = websocketUrl(),
  ) {
    this.groups = new GroupChats(store, () => this.xmpp, notify);
    this.account = new Account(store, () => this.xmpp);
    this.avatars = new Avatars(store, () => this.xmpp);
    this.features = new MessageFeatures(store, () => this.xmpp);
  }

  /** XEP-0388 §2.1: a stable id per installation, so the server binds the FAST token to this browser. */
  private userAgentId(): string {
    let id = this.storage.getItem(USER_AGENT_KEY);
    if (!id) {
      id = uuid();
      this.storage.setItem(USER_AGENT_KEY, id);
    }
    return id;
  }

  private saved(): SavedSession | undefined {
    try {
      const s = JSON.parse(this.storage.getItem(SESSION_KEY) ?? 'null') as SavedSession | null;
      return s && typeof s.jid === 'string' && typeof s.token?.token === 'string' ? s : undefined;
    } catch {
      return undefined;
    }
  }

  get hasSavedSession(): boolean {
    return this.saved() !== undefined;
  }

  /** Logs in again with the saved token after a reload; false when there is none or the server refused it. */
  async resume(): Promise<boolean> {
    const saved = this.saved();
    if (!saved) return false;
    try {
      await this.connect(Jid.parse(saved.jid));
      return true;
    } catch {
      this.storage.removeItem(SESSION_KEY);
      this.store.update((s) => ({ ...s, connection: 'signed-out', error: 'Your session has ended; please log in again.' }));
      return false;
    }
  }

  async login(address: string, password: string): Promise<void> {
    const jid = parseAccount(address);
    this.password = password;
    try {
      await this.connect(jid);
    } catch (err) {
      this.password = undefined;
      const message = /not-authorized|credentials/i.test(String((err as Error)?.message ?? err))
        ? 'Wrong address or password.'
        : 'Cannot log in: ' + String((err as Error)?.message ?? err);
      this.store.update((s) => ({ ...s, connection: 'signed-out', error: message }));
      throw new LoginError(message);
    }
  }

  /** Whether this page's server lets people create accounts (XEP-0077), to show the option only then. */
  async canRegister(): Promise<boolean> {
    return isRegistrationAllowed(await this.endpoint(), location.hostname).catch(() => false);
  }

  /** XEP-0206 fallback: decided once per page, since a WebSocket that cannot connect will not start to later. */
  private async endpoint(): Promise<string> {
    this.service ??= (await canOpenWebSocket(this.url)) ? this.url : boshUrl();
    return this.service;
  }

  /** XEP-0077 in-band registration, then a normal login. */
  async register(address: string, password: string): Promise<void> {
    const jid = parseAccount(address);
    await registerAccount(await this.endpoint(), jid.domain, jid.local!, password);
    await this.login(address, password);
  }

  /**
   * Notifications: while the tab is hidden (Notification API), and while the app is closed through Web Push: the
   * browser subscribes with our server's VAPID key and the subscription is registered over this session
   * (urn:parley:webpush:0, Parley's webpush module). Returns what was turned on.
   */
  async enableNotifications(preview: boolean): Promise<'push' | 'notifications' | 'denied'> {
    if (typeof Notification === 'undefined') return 'denied';
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') return 'denied';
    try {
      const xmpp = this.xmpp;
      const reg = await navigator.serviceWorker?.ready;
      if (!xmpp || !reg?.pushManager) return 'notifications';
      const res = await xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('vapid', { xmlns: NS.PARLEY_WEBPUSH })));
      const key = res.getChild('vapid', NS.PARLEY_WEBPUSH)?.attrs['public-key'];
      if (!key) return 'notifications';
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key) });
      const json = sub.toJSON();
      await xmpp.iqCaller.request(
        xml('iq', { type: 'set' }, xml('subscribe', { xmlns: NS.PARLEY_WEBPUSH, endpoint: sub.endpoint, p256dh: json.keys?.p256dh, auth: json.keys?.auth, preview: String(preview) })),
      );
      return 'push';
    } catch (err) {
      // No push service reachable (or none configured in this browser): notifications while open still work.
      console.warn('web push', err);
      return 'notifications';
    }
  }

  /** Ends the session, revokes the FAST token (XEP-0484 §3.5) and forgets everything local. */
  async logout(): Promise<void> {
    const saved = this.saved();
    // This browser stops getting pushes for the account.
    try {
      const sub = await (await navigator.serviceWorker?.getRegistration())?.pushManager?.getSubscription();
      if (sub) {
        await this.xmpp?.iqCaller.request(xml('iq', { type: 'set' }, xml('unsubscribe', { xmlns: NS.PARLEY_WEBPUSH, endpoint: sub.endpoint })), 5000).catch(() => {});
        await sub.unsubscribe();
      }
    } catch {
      // no push subscription
    }
    this.loggingOut = true;
    this.storage.removeItem(SESSION_KEY);
    const xmpp = this.xmpp;
    this.xmpp = undefined;
    if (xmpp) {
      xmpp.reconnect.stop();
      try {
        await xmpp.send(xml('presence', { type: 'unavailable' }));
        await xmpp.stop();
      } catch {
        // already gone
      }
    }
    if (saved) {
      const jid = Jid.parse(saved.jid);
      await invalidateFastToken(await this.endpoint(), { local: jid.local!, domain: jid.domain }, saved.token, this.userAgentId()).catch(() => {});
    }
    this.loggingOut = false;
    this.store.update(() => ({ ...initialAfterLogout() }));
  }

  private async connect(jid: Jid): Promise<void> {
    const bare = jid.toBareString();
    this.store.update((s) => ({ ...s, connection: 'connecting', error: undefined, me: bare }));
    const service = await this.endpoint();
    this.store.update((s) => ({ ...s, transport: service === this.url ? 'websocket' : 'bosh' }));
    const xmpp = client({
      service,
      domain: jid.domain,
      credentials: async (authenticate, mechanisms) => {
        const token = this.saved()?.jid === bare ? this.saved()!.token : undefined;
        // In browsers xmpp.js offers PLAIN (SCRAM needs node's crypto); the server accepts it only on secure
        // transports (wss:, or loopback), as RFC 6120 §13.8 wants.
        const mechanism = mechanisms.find((m) => m !== 'PLAIN') ?? mechanisms[0];
        await authenticate(
          { username: jid.local, password: this.password, token },
          mechanism,
          xml('user-agent', { id: this.userAgentId() }, xml('software', {}, 'Parley web'), xml('device', {}, deviceName())),
        );
      },
    });
    addBoshTransport(xmpp);
    this.account.attach(xmpp, bare);
    xmpp.fast.fetchToken = async () => this.saved()?.token;
    xmpp.fast.saveToken = async (token) => {
      this.storage.setItem(SESSION_KEY, JSON.stringify({ jid: bare, token } satisfies SavedSession));
      // From now on the token logs in; the password is not kept, not even in memory.
      this.password = undefined;
    };
    xmpp.fast.deleteToken = async () => this.storage.removeItem(SESSION_KEY);

    xmpp.on('stanza', (el: Element) => this.onStanza(el));
    xmpp.on('online', () => void this.onOnline());
    xmpp.streamManagement.on('resumed', () => this.store.update((s) => ({ ...s, connection: 'online' })));
    xmpp.on('disconnect', () => {
      if (this.loggingOut || this.xmpp !== xmpp) return;
      this.store.update((s) => ({ ...s, connection: 'reconnecting' }));
    });
    xmpp.on('error', (err: unknown) => console.warn('xmpp', err));
    xmpp.iqCallee.set(NS.ROSTER, 'query', ({ stanza, element }) => {
      // RFC 6121 §2.1.6: a roster push comes from our own account (or has no from), anything else is ignored.
      const from = stanza.attrs.from;
      if (from && from !== bare && from !== jid.domain) return undefined;
      for (const item of element.getChildren('item')) this.applyRosterItem(item);
      return true;
    });
    this.xmpp = xmpp;
    try {
      await xmpp.start();
    } catch (err) {
      xmpp.reconnect.stop();
      await xmpp.stop().catch(() => {});
      if (this.xmpp === xmpp) this.xmpp = undefined;
      throw err;
    }
  }

  /** A new session (not a resumed one): roster, presence, carbons, and the open chat's latest messages. */
  private async onOnline(): Promise<void> {
    const xmpp = this.xmpp;
    if (!xmpp) return;
    const bare = this.store.state.me!;
    this.store.update((s) => ({ ...s, connection: 'online' }));
    try {
      // XEP-0280 §4: copies of what our other devices send and receive.
      await xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('enable', { xmlns: NS.CARBONS }))).catch(() => {});
      const roster = await xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS.ROSTER })));
      const contacts: Record<string, Contact> = {};
      for (const item of roster.getChild('query', NS.ROSTER)?.getChildren('item') ?? []) {
        const c = contactFromItem(item);
        if (c) contacts[c.jid] = c;
      }
      this.store.update((s) => ({ ...s, contacts }));
      await this.account.loadBlocklist();
      // Our avatar before our presence, so that the presence carries its hash (XEP-0153 §4.2).
      await this.avatars.loadOwn(bare);
      // RFC 6121 §4.2: initial presence after the roster, so the contacts' presence finds them listed.
      await this.sendPresence();
      // Rooms we were in before a reconnection, then the bookmarked ones (XEP-0402 autojoin).
      await this.groups.rejoin();
      await this.groups.joinBookmarked();
      const active = this.store.state.active;
      if (active && this.store.state.chats[active]?.kind !== 'groupchat') await this.loadHistory(active, { latest: true });
    } catch (err) {
      console.warn('session setup', err);
    }
  }

  private async sendPresence(): Promise<void> {
    const { ownShow, ownStatus } = this.store.state;
    const show = ownShow === 'available' || ownShow === 'offline' ? undefined : ownShow;
    await this.xmpp?.send(
      xml('presence', {}, show && xml('show', {}, show), ownStatus ? xml('status', {}, ownStatus) : undefined, this.avatars.presenceUpdate()),
    );
  }

  /** Sets our avatar (XEP-0084) and tells contacts at once through our presence's hash (XEP-0153 §4.2). */
  async setAvatar(file: Blob): Promise<void> {
    await this.avatars.publish(file);
    await this.sendPresence();
  }

  /**
   * XEP-0077 §3.3, then a new login with the new password. Parley revokes every FAST token of the account when
   * its password changes (a token stands for the password), so keeping this browser's token would only log it
   * out at the next reconnection or reload; logging in again at once gets a fresh token while the new password
   * is in memory, and it is forgotten as soon as that token arrives. The user's other devices must log in again.
   */
  async changePassword(newPassword: string): Promise<void> {
    await this.account.changePassword(newPassword);
    const me = this.store.state.me!;
    const old = this.xmpp;
    this.storage.removeItem(SESSION_KEY);
    this.loggingOut = true;
    this.xmpp = undefined;
    if (old) {
      old.reconnect.stop();
      await old.stop().catch(() => {});
    }
    this.loggingOut = false;
    this.password = newPassword;
    try {
      await this.connect(Jid.parse(me));
    } catch (err) {
      this.password = undefined;
      this.store.update(() => ({ ...initialAfterLogout(), error: 'Your password was changed; please log in with the new one.' }));
      throw err;
    }
  }

  async setPresence(show: Show, status: string): Promise<void> {
    this.store.update((s) => ({ ...s, ownShow: show, ownStatus: status }));
    await this.sendPresence();
  }

  private applyRosterItem(item: Element): void {
    const c = contactFromItem(item);
    if (!c) return;
    this.store.update((s) => {
      const contacts = { ...s.contacts };
      if (c.subscription === 'remove') delete contacts[c.jid];
      else contacts[c.jid] = c;
      return { ...s, contacts };
    });
  }

  private onStanza(el: Element): void {
    if (el.is('presence')) this.onPresence(el);
    else if (el.is('message')) this.onMessage(el);
  }

  private onPresence(el: Element): void {
    const from = Jid.tryParse(el.attrs.from);
    if (!from) return;
    if (this.groups.onPresence(el, from)) return;
    const bare = from.toBareString();
    const type = el.attrs.type;
    this.avatars.onPresence(el, bare);
    if (type === 'subscribe') {
      // A contact we asked to subscribe to (or already see) asks back: approve at once, the user agreed when
      // adding them (RFC 6121 §3.4 pre-approval, done by the client).
      const known = this.store.state.contacts[bare];
      if (known && (known.pending || known.subscription === 'to')) {
        void this.xmpp?.send(xml('presence', { to: bare, type: 'subscribed' }));
        return;
      }
      // RFC 6121 §3.1.3: ask the user, once per contact.
      this.store.update((s) => (s.requests.includes(bare) ? s : { ...s, requests: [...s.requests, bare] }));
      return;
    }
    if (type !== undefined && type !== 'unavailable') return;
    const resource = from.resource ?? '';
    this.store.update((s) => {
      const resources = { ...(s.presence[bare] ?? {}) };
      if (type === 'unavailable') delete resources[resource];
      else {
        const show = el.getChildText('show') as Show | null;
        resources[resource] = { show: show && ['away', 'dnd', 'xa', 'chat'].includes(show) ? show : 'available', status: el.getChildText('status') ?? undefined };
      }
      return { ...s, presence: { ...s.presence, [bare]: resources } };
    });
  }

  private onMessage(el: Element): void {
    const me = this.store.state.me;
    if (!me) return;
    // XEP-0313 results belong to the query that asked for them.
    if (el.getChild('result', NS.MAM)) return;
    const fromJid = Jid.tryParse(el.attrs.from);
    if (fromJid && this.groups.onMessage(el, fromJid)) return;
    const fromBare = fromJid?.toBareString() ?? me;
    // XEP-0280 §11: only our own account may send carbons.
    const carbon = el.getChild('received', NS.CARBONS) ?? el.getChild('sent', NS.CARBONS);
    if (carbon) {
      if (fromBare !== me) return;
      const inner = carbon.getChild('forwarded', NS.FORWARD)?.getChild('message');
      if (!inner) return;
      this.onChatMessage(inner, carbon.name === 'sent', true);
      return;
    }
    this.onChatMessage(el, false, false);
  }

  private onChatMessage(el: Element, sentByUs: boolean, isCarbon: boolean): void {
    const me = this.store.state.me!;
    const type = el.attrs.type ?? 'normal';
    if (type === 'error' || type === 'groupchat' || type === 'headline') return;
    const peerAttr = sentByUs ? el.attrs.to : el.attrs.from;
    const peer = Jid.tryParse(peerAttr)?.toBareString();
    if (!peer || peer === me) return;

    // XEP-0184 §4: a receipt for one of our messages.
    const receipt = el.getChild('received', NS.RECEIPTS);
    if (receipt && !sentByUs) {
      const id = receipt.attrs.id;
      this.updateChat(peer, (c) => ({ ...c, messages: c.messages.map((m) => (m.outgoing && m.id === id ? { ...m, delivered: true } : m)) }));
    }

    const state = CHAT_STATES.find((st) => el.getChild(st, NS.CHATSTATES));
    if (!sentByUs && state) this.updateChat(peer, (c) => ({ ...c, theirState: state }));
    const author = sentByUs ? { sender: me, name: 'You' } : { sender: peer, name: this.store.state.contacts[peer]?.name ?? peer };
    const { message, edit } = readMessage(el, messageFrom(el, '', sentByUs, me), 'chat', author);
    // XEP-0085 §5.1: a content message (a correction too) without a chat state means active.
    if (edit) this.updateChat(peer, (c) => ({ ...integrate(c, [], [edit]), theirState: sentByUs || edit.kind !== 'correct' ? c.theirState : state ?? 'active' }));
    if (!message) return;
    const body = message.body;

    const isActive = this.store.state.active === peer && !document.hidden;
    this.updateChat(peer, (c) => ({
      ...integrate(c, [message], []),
      theirState: sentByUs ? c.theirState : state ?? 'active',
      unread: sentByUs || isActive ? c.unread : c.unread + 1,
    }));
    if (!sentByUs) {
      // XEP-0184 §5.1 and §8: answer a receipt request, but only to contacts allowed to see our presence.
      const sub = this.store.state.contacts[peer]?.subscription;
      if (el.getChild('request', NS.RECEIPTS) && el.attrs.id && !isCarbon && (sub === 'from' || sub === 'both')) {
        void this.xmpp?.send(xml('message', { to: el.attrs.from, id: uuid() }, xml('received', { xmlns: NS.RECEIPTS, id: el.attrs.id })));
      }
      if (!isActive) notify(this.store.state.contacts[peer]?.name ?? peer, body);
    }
  }

  private updateChat(jid: string, change: (c: Chat) => Chat): void {
    this.store.update((s) => ({ ...s, chats: { ...s.chats, [jid]: change(s.chats[jid] ?? emptyChat(jid)) } }));
  }

  /** A plain message (features.send does replies and files too). */
  async sendMessage(to: string, body: string): Promise<void> {
    if (!this.store.state.chats[to]) this.updateChat(to, (c) => c);
    await this.features.send(to, body);
  }

  /** XEP-0085 §5: standalone chat-state notifications, not stored in archives (XEP-0334 no-store). */
  async sendChatState(to: string, state: ChatState): Promise<void> {
    await this.xmpp?.send(xml('message', { to, type: 'chat', id: uuid() }, xml(state, { xmlns: NS.CHATSTATES }), xml('no-store', { xmlns: NS.HINTS })));
  }

  openChat(jid: string | undefined): void {
    this.store.update((s) => {
      if (!jid) return { ...s, active: undefined };
      const chat = s.chats[jid] ?? emptyChat(jid);
      return { ...s, active: jid, chats: { ...s.chats, [jid]: { ...chat, unread: 0 } } };
    });
    const opened = jid ? this.store.state.chats[jid] : undefined;
    if (jid && opened?.kind === 'chat' && !opened.historyComplete && opened.messages.length < HISTORY_PAGE) {
      void this.loadHistory(jid, { latest: true });
    }
  }

  /** XEP-0313 §4: one page of the archive with `jid`, the latest one or the one before what is shown. */
  async loadHistory(jid: string, opts: { latest?: boolean } = {}): Promise<void> {
    const xmpp = this.xmpp;
    const me = this.store.state.me;
    if (!xmpp || !me) return;
    const chat = this.store.state.chats[jid] ?? emptyChat(jid);
    if (chat.historyLoading) return;
    const before = opts.latest ? '' : chat.messages.find((m) => m.archiveId)?.archiveId ?? '';
    this.updateChat(jid, (c) => ({ ...c, historyLoading: true }));
    const queryid = uuid();
    const found: Message[] = [];
    const edits: MessageEdit[] = [];
    const collect = (el: Element) => {
      const result = el.getChild('result', NS.MAM);
      if (!result || result.attrs.queryid !== queryid || Jid.tryParse(el.attrs.from)?.toBareString() !== me) return;
      const forwarded = result.getChild('forwarded', NS.FORWARD);
      const inner = forwarded?.getChild('message');
      if (!inner) return;
      const outgoing = Jid.tryParse(inner.attrs.from)?.toBareString() === me;
      const m = messageFrom(inner, '', outgoing, me, forwarded!.getChild('delay', NS.DELAY)?.attrs.stamp);
      // Corrections, retractions and reactions are archived like messages: history applies them too.
      const author = outgoing ? { sender: me, name: 'You' } : { sender: jid, name: this.store.state.contacts[jid]?.name ?? jid };
      const read = readMessage(inner, { ...m, archiveId: result.attrs.id }, 'chat', author);
      if (read.message) found.push(read.message);
      if (read.edit) edits.push(read.edit);
    };
    xmpp.on('stanza', collect);
    let complete = false;
    try {
      const res = await xmpp.iqCaller.request(
        xml(
          'iq',
          { type: 'set' },
          xml(
            'query',
            { xmlns: NS.MAM, queryid },
            xml(
              'x',
              { xmlns: NS.DATA, type: 'submit' },
              xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS.MAM)),
              xml('field', { var: 'with' }, xml('value', {}, jid)),
            ),
            // XEP-0059 §2.5: <before/> pages backwards from the end (or from the oldest message shown).
            xml('set', { xmlns: NS.RSM }, xml('max', {}, String(HISTORY_PAGE)), xml('before', {}, before)),
          ),
        ),
        20000,
      );
      complete = res.getChild('fin', NS.MAM)?.attrs.complete === 'true';
    } catch (err) {
      console.warn('history', err);
    } finally {
      xmpp.off('stanza', collect);
    }
    this.updateChat(jid, (c) => ({
      ...integrate(c, found, edits),
      historyLoading: false,
      historyComplete: opts.latest ? c.historyComplete || complete : complete,
    }));
  }

  /** RFC 6121 §3.1.1 and §2.3: roster item, then a subscription request. */
  async addContact(address: string, name?: string): Promise<void> {
    const jid = Jid.parse(address.trim()).toBareString();
    if (!this.xmpp) return;
    await this.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: NS.ROSTER }, xml('item', { jid, name: name || undefined }))));
    await this.xmpp.send(xml('presence', { to: jid, type: 'subscribe' }));
  }

  /** RFC 6121 §3.1.4 approve, and ask back (§3.1.1) unless we already see the contact's presence. */
  async acceptRequest(jid: string): Promise<void> {
    if (!this.xmpp) return;
    await this.xmpp.send(xml('presence', { to: jid, type: 'subscribed' }));
    const sub = this.store.state.contacts[jid]?.subscription;
    if (sub !== 'to' && sub !== 'both') await this.xmpp.send(xml('presence', { to: jid, type: 'subscribe' }));
    this.store.update((s) => ({ ...s, requests: s.requests.filter((r) => r !== jid) }));
  }

  /** RFC 6121 §3.2.1: refuse. */
  async refuseRequest(jid: string): Promise<void> {
    await this.xmpp?.send(xml('presence', { to: jid, type: 'unsubscribed' }));
    this.store.update((s) => ({ ...s, requests: s.requests.filter((r) => r !== jid) }));
  }

  async renameContact(jid: string, name: string): Promise<void> {
    await this.xmpp?.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: NS.ROSTER }, xml('item', { jid, name: name || undefined }))));
  }

  /** RFC 6121 §2.5: removing the item also cancels both subscriptions. */
  async removeContact(jid: string): Promise<void> {
    await this.xmpp?.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: NS.ROSTER }, xml('item', { jid, subscription: 'remove' }))));
    this.store.update((s) => ({ ...s, active: s.active === jid ? undefined : s.active }));
  }

  /**
   * The page is going away (tab closed, reload): say goodbye at once, on the socket itself since nothing async
   * finishes in pagehide. A reload logs in anew with the token; XEP-0198 resumption is for network drops, and a
   * session left to resume would show us online to our contacts for minutes.
   */
  leavePage(): void {
    const transport = (this.xmpp as unknown as { socket?: unknown })?.socket;
    if (transport instanceof BoshSocket) {
      this.xmpp?.reconnect.stop();
      transport.leave(`<presence xmlns='${NS.CLIENT}' type='unavailable'/>`);
      return;
    }
    const socket = (transport as { socket?: WebSocket } | undefined)?.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    this.xmpp?.reconnect.stop();
    socket.send(`<presence xmlns='${NS.CLIENT}' type='unavailable'/>`);
    socket.send(`<close xmlns='${NS.FRAMING}'/>`);
  }

  /** Test and debugging hook: drops the socket as a network failure would, so xmpp.js reconnects and resumes. */
  dropConnection(): void {
    (this.xmpp as unknown as { socket?: { socket?: WebSocket } })?.socket?.socket?.close();
  }
}

function initialAfterLogout(): AppState {
  return { connection: 'signed-out', ownShow: 'available', ownStatus: '', contacts: {}, presence: {}, requests: [], chats: {}, rooms: {}, blocked: [], avatars: {} };
}

/** user@domain, or a bare user name on the server that serves this page. */
export function parseAccount(address: string, host: string = location.hostname): Jid {
  const trimmed = address.trim();
  const jid = Jid.tryParse(trimmed.includes('@') ? trimmed : `${trimmed}@${host}`);
  if (!jid || !jid.local || jid.resource) throw new LoginError('Enter an address like alice@example.org.');
  return jid;
}

function contactFromItem(item: Element): Contact | undefined {
  const jid = Jid.tryParse(item.attrs.jid)?.toBareString();
  if (!jid) return undefined;
  const sub = item.attrs.subscription;
  return {
    jid,
    name: item.attrs.name || undefined,
    subscription: sub === 'to' || sub === 'from' || sub === 'both' || sub === 'remove' ? sub : 'none',
    pending: item.attrs.ask === 'subscribe',
  };
}

function messageFrom(el: Element, body: string, outgoing: boolean, me: string, stamp?: string): Message {
  const originId = el.getChild('origin-id', NS.STANZA_ID)?.attrs.id;
  // XEP-0359 §3: only a stanza-id stamped by our own account's archive is trusted.
  const archiveId = el.getChildren('stanza-id', NS.STANZA_ID).find((s) => s.attrs.by === me)?.attrs.id;
  const delay = stamp ?? el.getChild('delay', NS.DELAY)?.attrs.stamp;
  const time = delay ? Date.parse(delay) : Date.now();
  return { id: originId ?? el.attrs.id ?? archiveId ?? uuid(), archiveId, outgoing, body, time: Number.isNaN(time) ? Date.now() : time };
}

function base64UrlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '=');
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function deviceName(): string {
  const ua = navigator.userAgent;
  if (/Android/i.test(ua)) return 'Android browser';
  if (/iPhone|iPad/i.test(ua)) return 'iOS browser';
  return 'Web browser';
}

/** A system notification while the tab is hidden, when the user allowed them. */
function notify(title: string, body: string): void {
  if (!document.hidden || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const show = () => new Notification(title, { body, icon: '/icon.svg', tag: title });
  navigator.serviceWorker?.ready
    .then((reg) => reg.showNotification(title, { body, icon: '/icon.svg', tag: title }))
    .catch(show);
}

export { bestPresence };
