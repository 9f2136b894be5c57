// The message composer of a chat or room: text (Enter sends, Shift+Enter a new line), the message being answered
// (XEP-0461) or corrected (XEP-0308; up-arrow in an empty composer edits the last own message), an emoji picker,
// and files (XEP-0363) by the attach button, drag and drop or paste, with a progress bar while they upload.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Chat, Message } from '../../state/store';
import { lastOwnMessage } from '../../state/message-features';
import { authorJid } from '../../xmpp/message-features';
import type { ChatSession } from '../../xmpp/session';
import { EmojiPicker } from './emoji';
import { Emoji } from './emoji-image';

/** What the message list and the composer share: the message answered or being corrected. */
export interface ComposeTarget {
  replyTo?: { message: Message; authorName: string };
  editing?: Message;
}

interface Upload {
  name: string;
  progress: number;
  error?: string;
  abort: AbortController;
}

export interface ComposerProps {
  chat: Chat;
  session: ChatSession;
  /** The chat's name, for the label ("Message to …") and placeholder. */
  title: string;
  placeholder: string;
  disabled?: boolean;
  target: ComposeTarget;
  setTarget: (t: ComposeTarget) => void;
  /** Called on every change of the text (XEP-0085 chat states in one-to-one chats). */
  onDraft?: (text: string) => void;
  /** Called before a message goes out. */
  onSend?: () => void;
  /** Files dropped anywhere on the chat reach the composer through this. */
  droppedFiles?: File[];
}

export function Composer({ chat, session, title, placeholder, disabled, target, setTarget, onDraft, onSend, droppedFiles }: ComposerProps) {
  const [draft, setDraft] = useState('');
  const [picker, setPicker] = useState(false);
  const [upload, setUpload] = useState<Upload | undefined>();
  const input = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const change = (text: string) => {
    setDraft(text);
    onDraft?.(text);
  };

  // Editing starts with the message's text in the box; leaving it clears the box.
  useEffect(() => {
    if (target.editing) setDraft(target.editing.body);
    if (target.editing || target.replyTo) input.current?.focus();
  }, [target.editing, target.replyTo]);

  useEffect(() => {
    if (droppedFiles?.length) void sendFile(droppedFiles[0]!);
  }, [droppedFiles]);

  const send = async (e?: Event) => {
    e?.preventDefault();
    const text = draft;
    if (!text.trim()) return;
    setDraft('');
    onSend?.();
    const { editing, replyTo } = target;
    setTarget({});
    if (editing) await session.features.correct(chat.jid, editing, text);
    else
      await session.features.send(chat.jid, text, {
        replyTo: replyTo && { ...replyTo, authorJid: authorJid(chat.jid, chat.kind, replyTo.message, session.features.me(chat.jid) ?? '') },
      });
  };

  async function sendFile(file: File): Promise<void> {
    if (upload && !upload.error) return;
    const abort = new AbortController();
    const state: Upload = { name: file.name || 'file', progress: 0, abort };
    setUpload(state);
    try {
      const url = await session.features.upload(file, (progress) => setUpload((u) => (u && u.abort === abort ? { ...u, progress } : u)), abort.signal);
      await session.features.send(chat.jid, url, { file: { url } });
      setUpload(undefined);
    } catch (err) {
      setUpload((u) => (u && u.abort === abort ? { ...u, error: (err as Error).message } : u));
    }
  }

  const insertEmoji = (emoji: string) => {
    const el = input.current;
    const at = el?.selectionStart ?? draft.length;
    const end = el?.selectionEnd ?? at;
    change(draft.slice(0, at) + emoji + draft.slice(end));
    setPicker(false);
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(at + emoji.length, at + emoji.length);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey) return void send(e);
    if (e.key === 'Escape' && (target.editing || target.replyTo)) {
      e.preventDefault();
      if (target.editing) setDraft('');
      return setTarget({});
    }
    // XEP-0308 §1: the usual way to correct the last message.
    if (e.key === 'ArrowUp' && !draft) {
      const last = lastOwnMessage(chat.messages);
      if (last && !last.file) {
        e.preventDefault();
        setTarget({ editing: last });
      }
    }
  };

  const inputId = `composer-input`;
  return (
    <div class="composer-wrap">
      {target.replyTo && (
        <div class="compose-context" role="status">
          <span class="compose-context-text">
            Replying to <strong>{target.replyTo.authorName}</strong>: {target.replyTo.message.body.slice(0, 80)}
          </span>
          <button type="button" class="ghost small" aria-label="Cancel reply" onClick={() => setTarget({})}>
            ✕
          </button>
        </div>
      )}
      {target.editing && (
        <div class="compose-context" role="status">
          <span class="compose-context-text">Editing your message</span>
          <button type="button" class="ghost small" aria-label="Cancel editing" onClick={() => (setDraft(''), setTarget({}))}>
            ✕
          </button>
        </div>
      )}
      {upload && (
        <div class="compose-context upload" role="status">
          <span class="compose-context-text">{upload.error ? `${upload.name}: ${upload.error}` : `Uploading ${upload.name}…`}</span>
          {!upload.error && <progress max={1} value={upload.progress} aria-label={`Uploading ${upload.name}`} />}
          <button
            type="button"
            class="ghost small"
            aria-label={upload.error ? 'Dismiss' : 'Cancel upload'}
            onClick={() => {
              upload.abort.abort();
              setUpload(undefined);
            }}
          >
            ✕
          </button>
        </div>
      )}
      {picker && <EmojiPicker onPick={insertEmoji} onClose={() => setPicker(false)} />}
      <form class="composer" onSubmit={send}>
        <input
          ref={fileInput}
          type="file"
          class="visually-hidden"
          tabIndex={-1}
          aria-label="Choose a file"
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            e.currentTarget.value = '';
            if (file) void sendFile(file);
          }}
        />
        <button type="button" class="ghost icon" aria-label="Attach a file" title="Attach a file" disabled={disabled} onClick={() => fileInput.current?.click()}>
          <Emoji emoji="📎" decorative />
        </button>
        <button type="button" class="ghost icon" aria-label="Insert emoji" title="Insert emoji" aria-expanded={picker} disabled={disabled} onClick={() => setPicker(!picker)}>
          <Emoji emoji="😊" decorative />
        </button>
        <label class="visually-hidden" for={inputId}>
          Message to {title}
        </label>
        <textarea
          id={inputId}
          ref={input}
          rows={1}
          placeholder={placeholder}
          value={draft}
          disabled={disabled}
          onInput={(e) => change(e.currentTarget.value)}
          onKeyDown={onKeyDown}
          onPaste={(e) => {
            const file = e.clipboardData?.files?.[0];
            if (file) {
              e.preventDefault();
              void sendFile(file);
            }
          }}
        />
        <button type="submit" class="primary" disabled={!draft.trim() || disabled}>
          {target.editing ? 'Save' : 'Send'}
        </button>
      </form>
    </div>
  );
}
