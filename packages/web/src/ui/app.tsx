// The app's screens: log in / register, then the contact list and the open chat side by side (desktop) or one at
// a time (phone). Everything is keyboard-reachable with visible labels or aria-labels.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AppState, Store } from '../state/store';
import { bestPresence, type Chat, type Show } from '../state/store';
import type { ChatSession } from '../xmpp/session';
import { Avatar } from './contacts/avatar';
import { ContactMenu } from './contacts/contact-menu';
import { StatusEditor } from './contacts/status-editor';
import { SettingsPanel } from './account/settings';
import { ClosedRegistrationHelp } from './account/first-run';
import './account/account.css';
import { lastOwnMessage } from '../state/message-features';
import { MessageItem } from './chat/message-item';
import { Composer, type ComposeTarget } from './chat/composer';
import { useFileDrop } from './chat/file-drop';

function useStore(store: Store): AppState {
  const [state, setState] = useState(store.state);
  useEffect(() => store.subscribe(setState), [store]);
  return state;
}

interface Props {
  store: Store;
  session: ChatSession;
}

export function App({ store, session }: Props) {
  const state = useStore(store);
  if (state.connection === 'signed-out' || (state.connection === 'connecting' && !state.me)) {
    return <Login state={state} session={session} />;
  }
  if (state.connection === 'connecting' && Object.keys(state.contacts).length === 0) {
    return (
      <main class="splash" aria-busy="true">
        <p role="status">Connecting…</p>
      </main>
    );
  }
  return <Main state={state} session={session} />;
}

function Login({ state, session }: { state: AppState; session: ChatSession }) {
  const [mode, setMode] = useState<'login' | 'register'>('login');
  // The address tried last stays filled in after a failed login (this screen is mounted anew by then).
  const [address, setAddress] = useState(state.me ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  // undefined until the server said: the first-run help shows only once we know registration is closed.
  const [canRegister, setCanRegister] = useState<boolean | undefined>(undefined);
  const shownError = error ?? state.error;
  useEffect(() => {
    void session.canRegister().then(setCanRegister);
  }, [session]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      if (mode === 'register') await session.register(address, password);
      else await session.login(address, password);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form class="card" onSubmit={submit} aria-labelledby="login-title">
        <img src="/icon.svg" alt="" width={56} height={56} />
        <h1 id="login-title">{mode === 'login' ? 'Log in to Parley' : 'Create an account'}</h1>
        <label>
          Address
          <input
            name="address"
            autoComplete="username"
            placeholder={`you@${location.hostname}`}
            value={address}
            onInput={(e) => setAddress(e.currentTarget.value)}
            required
            autoFocus
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        {shownError && (
          <p class="error" role="alert">
            {shownError}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Please wait…' : mode === 'login' ? 'Log in' : 'Create account'}
        </button>
        {(canRegister || mode === 'register') && (
          <button type="button" class="link" onClick={() => (setMode(mode === 'login' ? 'register' : 'login'), setError(undefined))}>
            {mode === 'login' ? 'New here? Create an account' : 'I have an account: log in'}
          </button>
        )}
        {canRegister === false && mode === 'login' && <ClosedRegistrationHelp />}
      </form>
    </main>
  );
}

const SHOW_LABEL: Record<Show, string> = {
  available: 'Available',
  chat: 'Free to chat',
  away: 'Away',
  xa: 'Away for a while',
  dnd: 'Do not disturb',
  offline: 'Offline',
};

function Main({ state, session }: { state: AppState; session: ChatSession }) {
  const active = state.active;
  const [settings, setSettings] = useState(false);
  const closeSettings = () => {
    setSettings(false);
    document.getElementById('settings-button')?.focus();
  };
  return (
    <div class={`layout ${active || settings ? 'has-chat' : ''}`}>
      <ConnectionBanner state={state} />
      <Sidebar state={state} session={session} onSettings={() => (setSettings(true), session.openChat(undefined))} />
      {settings && !active ? (
        <SettingsPanel state={state} session={session} onClose={closeSettings} />
      ) : active && state.rooms[active] ? (
        <RoomView key={active} state={state} session={session} />
      ) : active ? (
        <ChatView key={active} state={state} chat={state.chats[active]} session={session} />
      ) : (
        <section class="chat empty" aria-label="No chat open">
          <p>Pick a contact to start chatting, or add one with their address.</p>
        </section>
      )}
    </div>
  );
}

function ConnectionBanner({ state }: { state: AppState }) {
  if (state.connection === 'online') return null;
  return (
    <p class="banner" role="status">
      {state.connection === 'reconnecting' ? 'Connection lost — reconnecting…' : 'Connecting…'}
    </p>
  );
}

function Sidebar({ state, session, onSettings }: { state: AppState; session: ChatSession; onSettings: () => void }) {
  const [adding, setAdding] = useState(false);
  const [address, setAddress] = useState('');
  const [addError, setAddError] = useState<string | undefined>();
  const contacts = Object.values(state.contacts).sort((a, b) => (a.name ?? a.jid).localeCompare(b.name ?? b.jid));

  const add = async (e: Event) => {
    e.preventDefault();
    try {
      await session.addContact(address.includes('@') ? address : `${address}@${state.me!.split('@')[1]}`);
      setAddress('');
      setAdding(false);
      setAddError(undefined);
    } catch (err) {
      setAddError((err as Error).message || 'Could not add this contact.');
    }
  };

  return (
    <nav class="sidebar" aria-label="Contacts">
      <header class="me">
        <div class="me-line">
          <span class={`dot ${state.ownShow}`} aria-hidden="true" />
          <strong class="me-jid" title={state.me}>
            {state.me}
          </strong>
          <button type="button" id="settings-button" class="ghost settings-button" onClick={onSettings}>
            Settings
          </button>
          <button type="button" class="ghost" onClick={() => void session.logout()}>
            Log out
          </button>
        </div>
        <label class="status-select">
          <span class="visually-hidden">My status</span>
          <select value={state.ownShow} onChange={(e) => void session.setPresence(e.currentTarget.value as Show, state.ownStatus)}>
            {(['available', 'away', 'dnd'] as Show[]).map((s) => (
              <option value={s}>{SHOW_LABEL[s]}</option>
            ))}
          </select>
        </label>
        <StatusEditor state={state} session={session} />
        <NotificationToggle session={session} />
      </header>
      {state.requests.length > 0 && (
        <section class="requests" aria-label="Contact requests">
          {state.requests.map((jid) => (
            <div class="request" key={jid}>
              <p>
                <strong>{jid}</strong> wants to add you as a contact.
              </p>
              <div class="row">
                <button type="button" class="primary" onClick={() => void session.acceptRequest(jid)}>
                  Accept
                </button>
                <button type="button" onClick={() => void session.refuseRequest(jid)}>
                  Refuse
                </button>
              </div>
            </div>
          ))}
        </section>
      )}
      <div class="list-head">
        <h2>Contacts</h2>
        <button type="button" class="primary small" aria-expanded={adding} onClick={() => setAdding(!adding)}>
          {adding ? 'Cancel' : 'Add contact'}
        </button>
      </div>
      {adding && (
        <form class="add" onSubmit={add}>
          <label>
            Contact address
            <input name="contact" placeholder={`friend@${state.me?.split('@')[1] ?? ''}`} value={address} onInput={(e) => setAddress(e.currentTarget.value)} required autoFocus />
          </label>
          {addError && (
            <p class="error" role="alert">
              {addError}
            </p>
          )}
          <button type="submit" class="primary">
            Add
          </button>
        </form>
      )}
      <ul class="contacts" aria-label="Contacts">
        {contacts.length === 0 && <li class="hint">No contacts yet.</li>}
        {contacts.map((c) => {
          const blocked = state.blocked.includes(c.jid);
          // XEP-0191: the server no longer passes on a blocked contact's presence; what we last saw is stale.
          const p = blocked ? { show: 'offline' as Show } : bestPresence(state.presence[c.jid]);
          const unread = state.chats[c.jid]?.unread ?? 0;
          const typing = state.chats[c.jid]?.theirState === 'composing';
          return (
            <li key={c.jid}>
              <button type="button" class={`contact ${state.active === c.jid ? 'active' : ''} ${blocked ? 'blocked' : ''}`} aria-current={state.active === c.jid ? 'true' : undefined} onClick={() => session.openChat(c.jid)}>
                <Avatar name={c.name ?? c.jid} url={state.avatars[c.jid]} show={p.show} />
                <span class="contact-text">
                  <span class="contact-name">{c.name ?? c.jid}</span>
                  <span class="visually-hidden">, </span>
                  <span class="contact-status">
                    {blocked ? 'Blocked' : typing ? 'typing…' : c.pending && c.subscription !== 'both' && c.subscription !== 'to' ? 'Request sent' : p.status || SHOW_LABEL[p.show]}
                  </span>
                </span>
                <UnreadBadge count={unread} />
              </button>
            </li>
          );
        })}
      </ul>
      <Rooms state={state} session={session} />
    </nav>
  );
}

function Rooms({ state, session }: { state: AppState; session: ChatSession }) {
  const [joining, setJoining] = useState(false);
  const [name, setName] = useState('');
  const [publicRooms, setPublicRooms] = useState<Array<{ jid: string; name?: string }>>([]);
  const rooms = Object.values(state.rooms).sort((a, b) => a.jid.localeCompare(b.jid));

  useEffect(() => {
    if (joining) void session.groups.listRooms().then(setPublicRooms, () => setPublicRooms([]));
  }, [joining, session]);

  const join = async (room: string) => {
    await session.groups.join(room);
    setName('');
    setJoining(false);
    session.openChat(room.includes('@') ? room : `${room.trim().toLowerCase()}@${session.groups.conferenceDomain()}`);
  };

  return (
    <>
      <div class="list-head">
        <h2>Group chats</h2>
        <button type="button" class="primary small" aria-expanded={joining} onClick={() => setJoining(!joining)}>
          {joining ? 'Cancel' : 'Join or create'}
        </button>
      </div>
      {joining && (
        <form
          class="add"
          onSubmit={(e) => {
            e.preventDefault();
            void join(name);
          }}
        >
          <label>
            Room name
            <input name="room" placeholder="team" value={name} onInput={(e) => setName(e.currentTarget.value)} required autoFocus />
          </label>
          <p class="small-hint">A new name creates the room.</p>
          <button type="submit" class="primary">
            Join
          </button>
          {publicRooms.filter((r) => !state.rooms[r.jid]).length > 0 && (
            <ul class="public-rooms" aria-label="Public rooms">
              {publicRooms
                .filter((r) => !state.rooms[r.jid])
                .map((r) => (
                  <li key={r.jid}>
                    <button type="button" class="ghost small" onClick={() => void join(r.jid)}>
                      # {r.name ?? r.jid.split('@')[0]}
                    </button>
                  </li>
                ))}
            </ul>
          )}
        </form>
      )}
      <ul class="contacts" aria-label="Group chats">
        {rooms.length === 0 && <li class="hint">No group chats yet.</li>}
        {rooms.map((r) => {
          const unread = state.chats[r.jid]?.unread ?? 0;
          return (
            <li key={r.jid}>
              <button type="button" class={`contact ${state.active === r.jid ? 'active' : ''}`} aria-current={state.active === r.jid ? 'true' : undefined} onClick={() => session.openChat(r.jid)}>
                <span class="avatar room" aria-hidden="true">
                  #
                </span>
                <span class="contact-text">
                  <span class="contact-name">{r.name ?? r.jid.split('@')[0]}</span>
                  <span class="visually-hidden">, </span>
                  <span class="contact-status">{r.error ?? (r.joined ? `${Object.keys(r.occupants).length} here` : 'Joining…')}</span>
                </span>
                <UnreadBadge count={unread} />
              </button>
            </li>
          );
        })}
      </ul>
    </>
  );
}

function NotificationToggle({ session }: { session: ChatSession }) {
  const [permission, setPermission] = useState(typeof Notification === 'undefined' ? 'denied' : Notification.permission);
  const [preview, setPreview] = useState(true);
  if (permission !== 'default') return null;
  return (
    <div class="notify">
      <button type="button" class="small" onClick={() => void session.enableNotifications(preview).then(() => setPermission(Notification.permission))}>
        Turn on notifications
      </button>
      <label class="check">
        <input type="checkbox" checked={preview} onChange={(e) => setPreview(e.currentTarget.checked)} />
        Show message text
      </label>
    </div>
  );
}

function RoomView({ state, session }: { state: AppState; session: ChatSession }) {
  const jid = state.active!;
  const room = state.rooms[jid];
  const chat = state.chats[jid];
  const [target, setTarget] = useState<ComposeTarget>({});
  const drop = useFileDrop();
  const [showPeople, setShowPeople] = useState(false);
  const listRef = useRef<HTMLOListElement>(null);
  const messages = chat?.messages ?? [];
  const title = room.name ?? jid.split('@')[0];
  const me = room.occupants[room.nick];
  const canModerate = me?.role === 'moderator';
  const occupants = Object.values(room.occupants).sort((a, b) => a.nick.localeCompare(b.nick));

  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length]);

  const lastOwn = lastOwnMessage(messages);
  const meInRoom = session.features.me(jid);

  return (
    <section class={`chat ${drop.over ? 'drop-target' : ''}`} aria-label={`Group chat ${title}`} {...drop.handlers}>
      <header class="chat-head">
        <button type="button" class="ghost back" aria-label="Back to contacts" onClick={() => session.openChat(undefined)}>
          ←
        </button>
        <span class="avatar room" aria-hidden="true">
          #
        </span>
        <div class="chat-title">
          <h2>{title}</h2>
          <p class="presence">{room.error ?? (room.subject || `${occupants.length} ${occupants.length === 1 ? 'person' : 'people'} here`)}</p>
        </div>
        <button type="button" class="ghost small" aria-expanded={showPeople} onClick={() => setShowPeople(!showPeople)}>
          People ({occupants.length})
        </button>
        <button type="button" class="ghost small" onClick={() => void session.groups.leave(jid)}>
          Leave
        </button>
      </header>
      {showPeople && (
        <ul class="occupants" aria-label="People in this room">
          {occupants.map((o) => (
            <li key={o.nick}>
              <span class={`dot ${o.show}`} aria-hidden="true" /> {o.nick}
              {o.nick === room.nick ? ' (you)' : ''} <span class="role">{o.affiliation !== 'none' ? o.affiliation : o.role}</span>
              {canModerate && o.nick !== room.nick && (
                <button type="button" class="ghost small" onClick={() => void session.groups.kick(jid, o.nick)}>
                  Remove {o.nick}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <ol class="messages" ref={listRef} aria-label="Messages" aria-live="polite">
        {messages.length === 0 && <li class="hint">{room.joined ? 'No messages yet. Say hello!' : 'Joining…'}</li>}
        {chat &&
          messages.map((m, i) => (
            <MessageItem
              key={m.id}
              m={m}
              chat={chat}
              session={session}
              nick={!m.outgoing && messages[i - 1]?.nick !== m.nick ? m.nick : undefined}
              me={meInRoom}
              authorName={m.outgoing ? 'You' : m.nick ?? ''}
              canEdit={m === lastOwn && !m.file}
              canModerate={canModerate}
              onReply={(message) => setTarget({ replyTo: { message, authorName: message.outgoing ? 'You' : message.nick ?? '' } })}
              onEdit={(message) => setTarget({ editing: message })}
            />
          ))}
      </ol>
      {chat && (
        <Composer
          chat={chat}
          session={session}
          title={title}
          placeholder={`Message #${title}`}
          disabled={!room.joined}
          target={target}
          setTarget={setTarget}
          droppedFiles={drop.files}
        />
      )}
    </section>
  );
}

function ChatView({ state, chat, session }: { state: AppState; chat: Chat | undefined; session: ChatSession }) {
  const jid = state.active!;
  const contact = state.contacts[jid];
  const presence = state.blocked.includes(jid) ? { show: 'offline' as Show, status: undefined } : bestPresence(state.presence[jid]);
  const name = contact?.name ?? jid;
  const [target, setTarget] = useState<ComposeTarget>({});
  const drop = useFileDrop();
  const listRef = useRef<HTMLOListElement>(null);
  const typingTimer = useRef<number | undefined>(undefined);
  const composing = useRef(false);
  const messages = chat?.messages ?? [];

  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length]);

  // XEP-0085 §5.2: composing while typing, paused after a few idle seconds.
  const onInput = (value: string) => {
    if (!composing.current && value) {
      composing.current = true;
      void session.sendChatState(jid, 'composing');
    }
    clearTimeout(typingTimer.current);
    typingTimer.current = window.setTimeout(() => {
      if (composing.current) {
        composing.current = false;
        void session.sendChatState(jid, 'paused');
      }
    }, 5000);
  };

  const onSend = () => {
    clearTimeout(typingTimer.current);
    composing.current = false;
  };
  const lastOwn = lastOwnMessage(messages);

  return (
    <section class={`chat ${drop.over ? 'drop-target' : ''}`} aria-label={`Chat with ${name}`} {...drop.handlers}>
      <header class="chat-head">
        <button type="button" class="ghost back" aria-label="Back to contacts" onClick={() => session.openChat(undefined)}>
          ←
        </button>
        <Avatar name={name} url={state.avatars[jid]} show={presence.show} />
        <div class="chat-title">
          <h2>{name}</h2>
          <p class="presence">{presence.status ? `${SHOW_LABEL[presence.show]} — ${presence.status}` : SHOW_LABEL[presence.show]}</p>
        </div>
        <ContactMenu state={state} session={session} jid={jid} />
      </header>
      {state.blocked.includes(jid) && (
        <p class="blocked-banner" role="status">
          You block {name}: you get none of their messages and they do not see you online.
        </p>
      )}
      <ol class="messages" ref={listRef} aria-label="Messages" aria-live="polite">
        {chat && !chat.historyComplete && messages.length > 0 && (
          <li class="older">
            <button type="button" class="ghost small" disabled={chat.historyLoading} onClick={() => void session.loadHistory(jid)}>
              {chat.historyLoading ? 'Loading…' : 'Load older messages'}
            </button>
          </li>
        )}
        {messages.length === 0 && <li class="hint">{chat?.historyLoading ? 'Loading…' : `No messages with ${name} yet. Say hello!`}</li>}
        {chat &&
          messages.map((m) => (
            <MessageItem
              key={m.id}
              m={m}
              chat={chat}
              session={session}
              me={state.me}
              authorName={m.outgoing ? 'You' : name}
              canEdit={m === lastOwn && !m.file}
              onReply={(message) => setTarget({ replyTo: { message, authorName: message.outgoing ? 'You' : name } })}
              onEdit={(message) => setTarget({ editing: message })}
            />
          ))}
      </ol>
      <p class="typing" aria-live="polite">
        {chat?.theirState === 'composing' ? `${name} is typing…` : ''}
      </p>
      {chat && (
        <Composer
          chat={chat}
          session={session}
          title={name}
          placeholder={`Message ${name}`}
          target={target}
          setTarget={setTarget}
          onDraft={onInput}
          onSend={onSend}
          droppedFiles={drop.files}
        />
      )}
    </section>
  );
}

function UnreadBadge({ count }: { count: number }) {
  if (count <= 0) return null;
  return (
    <span class="badge">
      {count}
      <span class="visually-hidden"> unread</span>
    </span>
  );
}
