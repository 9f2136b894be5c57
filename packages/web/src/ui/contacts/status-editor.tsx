// Our status message (RFC 6121 §4.7.2.2 <status/>), sent with our presence when saved (Enter or leaving the field).
import { useEffect, useState } from 'preact/hooks';
import type { AppState } from '../../state/store';
import type { ChatSession } from '../../xmpp/session';

/** RFC 6121 does not limit <status/>; contacts' clients show one line, so keep it short. */
const MAX_STATUS = 140;

export function StatusEditor({ state, session }: { state: AppState; session: ChatSession }) {
  const [text, setText] = useState(state.ownStatus);
  useEffect(() => setText(state.ownStatus), [state.ownStatus]);
  const save = () => {
    const status = text.trim().slice(0, MAX_STATUS);
    if (status !== state.ownStatus) void session.setPresence(state.ownShow, status);
  };
  return (
    <form
      class="status-editor"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <label>
        <span class="visually-hidden">Status message</span>
        <input name="status" placeholder="What are you up to?" maxLength={MAX_STATUS} value={text} onInput={(e) => setText(e.currentTarget.value)} onBlur={save} />
      </label>
    </form>
  );
}
