// What can be done with a contact, from the chat's header: rename (RFC 6121 §2.3 roster set with a name), block
// or unblock (XEP-0191) and remove (RFC 6121 §2.5). A disclosure panel, keyboard-reachable, Escape closes it.
import { useRef, useState } from 'preact/hooks';
import type { AppState } from '../../state/store';
import type { ChatSession } from '../../xmpp/session';

export function ContactMenu({ state, session, jid }: { state: AppState; session: ChatSession; jid: string }) {
  const contact = state.contacts[jid];
  const [open, setOpen] = useState(false);
  const [name, setName] = useState(contact?.name ?? '');
  const [error, setError] = useState<string | undefined>();
  const blocked = state.blocked.includes(jid);
  const shownName = contact?.name ?? jid;
  const toggle = useRef<HTMLButtonElement>(null);
  // Escape closes the panel and puts focus back on the button that opened it (WAI-ARIA disclosure pattern).
  const close = () => {
    setOpen(false);
    toggle.current?.focus();
  };

  const act = async (what: () => Promise<void>, closeAfter = false) => {
    setError(undefined);
    try {
      await what();
      // Blocking and removing change the whole chat view: the panel gets out of the way.
      if (closeAfter) close();
    } catch (err) {
      setError((err as Error).message || 'That did not work; try again.');
    }
  };

  return (
    <div class="contact-menu" onKeyDown={(e) => e.key === 'Escape' && close()}>
      <button ref={toggle} type="button" class="ghost small" aria-expanded={open} aria-controls="contact-menu-panel" onClick={() => (setOpen(!open), setName(contact?.name ?? ''))}>
        Options<span class="visually-hidden"> for {shownName}</span>
      </button>
      {open && (
        <div class="menu-panel" id="contact-menu-panel" role="group" aria-label={`Options for ${shownName}`}>
          {contact && (
            <form
              class="rename"
              onSubmit={(e) => {
                e.preventDefault();
                void act(() => session.renameContact(jid, name.trim()));
              }}
            >
              <label>
                Name shown for {jid}
                <input name="contact-name" value={name} placeholder={jid} onInput={(e) => setName(e.currentTarget.value)} autoFocus />
              </label>
              <button type="submit" class="small">
                Save name
              </button>
            </form>
          )}
          <div class="row wrap">
            {blocked ? (
              <button type="button" class="small" onClick={() => void act(() => session.account.unblock(jid), true)}>
                Unblock
              </button>
            ) : (
              <button
                type="button"
                class="small danger"
                onClick={() => {
                  if (confirm(`Block ${shownName}? They will not be able to message you or see when you are online.`)) void act(() => session.account.block(jid), true);
                }}
              >
                Block
              </button>
            )}
            {contact && (
              <button
                type="button"
                class="small danger"
                onClick={() => {
                  if (confirm(`Remove ${shownName} from your contacts?`)) void act(() => session.removeContact(jid), true);
                }}
              >
                Remove contact
              </button>
            )}
          </div>
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
