// The account panel: our avatar, password change, the people we block, and how we are connected. Shown in place of
// a chat (one pane at a time on a phone), with a Close button that returns focus to where the user was.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AppState } from '../../state/store';
import type { ChatSession } from '../../xmpp/session';
import { Avatar } from '../contacts/avatar';

export function SettingsPanel({ state, session, onClose }: { state: AppState; session: ChatSession; onClose: () => void }) {
  // Keyboard and screen reader users land on the panel's heading when it opens.
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section class="chat settings" aria-labelledby="settings-title" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <header class="chat-head">
        <button type="button" class="ghost back" aria-label="Back to contacts" onClick={onClose}>
          ←
        </button>
        <div class="chat-title">
          <h2 id="settings-title" ref={heading} tabIndex={-1}>
            Settings
          </h2>
          <p class="presence">{state.me}</p>
        </div>
        <button type="button" class="ghost small" onClick={onClose}>
          Close
        </button>
      </header>
      <div class="settings-body">
        <AvatarSetting state={state} session={session} />
        <PasswordSetting session={session} />
        <BlockedList state={state} session={session} />
        <section class="setting" aria-labelledby="connection-title">
          <h3 id="connection-title">Connection</h3>
          <p class="small-hint">
            {state.transport === 'bosh'
              ? 'Connected over HTTP (BOSH), because WebSocket connections do not get through from here.'
              : 'Connected over WebSocket.'}
          </p>
        </section>
      </div>
    </section>
  );
}

function AvatarSetting({ state, session }: { state: AppState; session: ChatSession }) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ error?: boolean; text: string } | undefined>();
  const me = state.me ?? '';
  const choose = async (file: File | undefined) => {
    if (!file) return;
    setBusy(true);
    setMessage(undefined);
    try {
      await session.setAvatar(file);
      setMessage({ text: 'Your picture is updated.' });
    } catch (err) {
      setMessage({ error: true, text: `Could not set the picture: ${(err as Error).message}` });
    } finally {
      setBusy(false);
      if (input.current) input.current.value = '';
    }
  };
  return (
    <section class="setting" aria-labelledby="avatar-title">
      <h3 id="avatar-title">Your picture</h3>
      <div class="row center">
        <Avatar name={me} url={state.avatars[me]} size="large" />
        <label class="file-button">
          {busy ? 'Uploading…' : state.avatars[me] ? 'Change picture' : 'Choose a picture'}
          <input ref={input} class="visually-hidden" type="file" name="avatar" accept="image/*" disabled={busy} onChange={(e) => void choose(e.currentTarget.files?.[0])} />
        </label>
      </div>
      <p class="small-hint">Your contacts see it next to your name. It is cropped to a square.</p>
      {message && (
        <p class={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
    </section>
  );
}

function PasswordSetting({ session }: { session: ChatSession }) {
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ error?: boolean; text: string } | undefined>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setMessage(undefined);
    if (next !== again) return setMessage({ error: true, text: 'The two passwords differ.' });
    setBusy(true);
    try {
      await session.changePassword(next);
      setNext('');
      setAgain('');
      setMessage({ text: 'Password changed. Your other devices must log in again with it.' });
    } catch (err) {
      setMessage({ error: true, text: (err as Error).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="setting" aria-labelledby="password-title">
      <h3 id="password-title">Password</h3>
      <form class="stack" onSubmit={submit}>
        <label>
          New password
          <input name="new-password" type="password" autoComplete="new-password" value={next} onInput={(e) => setNext(e.currentTarget.value)} required />
        </label>
        <label>
          New password again
          <input name="new-password-again" type="password" autoComplete="new-password" value={again} onInput={(e) => setAgain(e.currentTarget.value)} required />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Changing…' : 'Change password'}
        </button>
      </form>
      {message && (
        <p class={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
    </section>
  );
}

function BlockedList({ state, session }: { state: AppState; session: ChatSession }) {
  return (
    <section class="setting" aria-labelledby="blocked-title">
      <h3 id="blocked-title">Blocked</h3>
      {state.blocked.length === 0 ? (
        <p class="small-hint">You block nobody. Block someone from the Options of their chat.</p>
      ) : (
        <ul class="blocked-list" aria-labelledby="blocked-title">
          {state.blocked.map((jid) => (
            <li key={jid}>
              <span class="blocked-jid">{jid}</span>
              <button type="button" class="small" onClick={() => void session.account.unblock(jid)}>
                Unblock<span class="visually-hidden"> {jid}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
