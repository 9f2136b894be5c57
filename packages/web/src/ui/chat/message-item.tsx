// One message in a chat or room: its text (links clickable), the message it replies to, an uploaded image shown
// inline, "edited" and "deleted" marks, its reactions, and the actions on it (react, reply, edit, delete).
import { useState } from 'preact/hooks';
import { linkify, type Chat, type Message } from '../../state/store';
import { referenceId, summarizeReactions, toggleReaction } from '../../state/message-features';
import type { ChatSession } from '../../xmpp/session';
import { EmojiPicker, QUICK_REACTIONS } from './emoji';
import { Emoji, EmojiText } from './emoji-image';

export function Linkified({ text }: { text: string }) {
  return (
    <>
      {linkify(text).map((part) =>
        part.href ? (
          <a href={part.href} target="_blank" rel="noopener noreferrer">
            {part.text}
          </a>
        ) : (
          <EmojiText text={part.text} />
        ),
      )}
    </>
  );
}

/** Images a browser shows safely (the upload service serves them inline, never SVG). */
const IMAGE = /\.(png|jpe?g|gif|webp|avif)$/i;

function fileName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() || 'file');
  } catch {
    return 'file';
  }
}

/** An uploaded file (XEP-0066 URL): an image inline, opened in full on click; any other file as a link. */
function Attachment({ url }: { url: string }) {
  const [broken, setBroken] = useState(false);
  const name = fileName(url);
  if (IMAGE.test(new URL(url).pathname) && !broken) {
    return (
      <a class="attachment image" href={url} target="_blank" rel="noopener noreferrer" title={`Open ${name}`}>
        <img src={url} alt={`Image: ${name}`} loading="lazy" onError={() => setBroken(true)} />
      </a>
    );
  }
  return (
    <a class="attachment file" href={url} target="_blank" rel="noopener noreferrer" download={name}>
      <Emoji emoji="📎" decorative /> {name}
    </a>
  );
}

export interface MessageItemProps {
  m: Message;
  chat: Chat;
  session: ChatSession;
  /** The author's name to show above the bubble (rooms), or undefined. */
  nick?: string;
  /** Our sender key in this chat (reactions we made). */
  me: string | undefined;
  /** Name of the message's author, for "replying to". */
  authorName: string;
  /** Only the last own message is edited (XEP-0308 §1). */
  canEdit: boolean;
  /** A room moderator may remove others' messages (XEP-0425). */
  canModerate?: boolean;
  onReply: (m: Message) => void;
  onEdit: (m: Message) => void;
}

export function MessageItem({ m, chat, session, nick, me, authorName, canEdit, canModerate, onReply, onEdit }: MessageItemProps) {
  const [menu, setMenu] = useState(false);
  const [picker, setPicker] = useState(false);
  const referable = referenceId(m, chat.kind) !== undefined && !m.retracted;
  const reactions = summarizeReactions(m, me);
  const react = (emoji: string) => {
    setMenu(false);
    setPicker(false);
    if (me) void session.features.react(chat.jid, m, toggleReaction(m, me, emoji));
  };
  const time = new Date(m.time);
  const quoted = m.reply && chat.messages.find((x) => referenceId(x, chat.kind) === m.reply!.id);
  const quotedText = quoted ? (quoted.retracted ? 'This message was deleted' : quoted.body) : m.reply?.quote;
  const quotedAuthor = quoted ? (quoted.outgoing ? 'You' : chat.kind === 'groupchat' ? quoted.nick : authorName) : undefined;

  return (
    <li class={`msg ${m.outgoing ? 'out' : 'in'}${menu ? ' menu-open' : ''}`} id={`msg-${m.id}`}>
      {nick && <span class="nick">{nick}</span>}
      <div class="bubble-row">
        {m.retracted ? (
          <p class="bubble deleted">This message was deleted</p>
        ) : (
          <div class="bubble">
            {m.reply && quotedText !== undefined && (
              <blockquote class="reply-quote">
                {quotedAuthor && <span class="reply-author">{quotedAuthor}</span>}
                <span class="reply-text">{quotedText.length > 140 ? `${quotedText.slice(0, 139)}…` : quotedText}</span>
              </blockquote>
            )}
            {m.file ? (
              <Attachment url={m.file.url} />
            ) : (
              <p class="text">
                <Linkified text={m.body} />
              </p>
            )}
          </div>
        )}
        {!m.retracted && (
          <button type="button" class="ghost msg-actions-toggle" aria-label="Message actions" aria-expanded={menu} onClick={() => setMenu(!menu)}>
            ⋯
          </button>
        )}
      </div>
      {menu && (
        <div class="msg-menu" role="group" aria-label="Message actions" onKeyDown={(e) => e.key === 'Escape' && setMenu(false)}>
          {referable &&
            QUICK_REACTIONS.map((e) => (
              <button type="button" class="emoji" key={e} aria-label={`React with ${e}`} onClick={() => react(e)}>
                <Emoji emoji={e} decorative />
              </button>
            ))}
          {referable && (
            <button type="button" class="ghost small" aria-label="More reactions" onClick={() => setPicker(true)}>
              +
            </button>
          )}
          {referable && (
            <button type="button" class="ghost small" onClick={() => (setMenu(false), onReply(m))}>
              Reply
            </button>
          )}
          {m.outgoing && canEdit && (
            <button type="button" class="ghost small" onClick={() => (setMenu(false), onEdit(m))}>
              Edit
            </button>
          )}
          {m.outgoing && referable && (
            <button
              type="button"
              class="ghost small danger"
              onClick={() => {
                setMenu(false);
                if (confirm('Delete this message for everyone?')) void session.features.retract(chat.jid, m);
              }}
            >
              Delete
            </button>
          )}
          {!m.outgoing && canModerate && m.archiveId && (
            <button
              type="button"
              class="ghost small danger"
              onClick={() => {
                setMenu(false);
                if (confirm(`Remove this message by ${nick ?? authorName} for everyone?`)) void session.groups.moderate(chat.jid, m.archiveId!).catch(() => {});
              }}
            >
              Remove
            </button>
          )}
        </div>
      )}
      {picker && <EmojiPicker label="Choose a reaction" onPick={react} onClose={() => setPicker(false)} />}
      {reactions.length > 0 && (
        <div class="reactions" role="group" aria-label="Reactions">
          {reactions.map((r) => (
            <button
              type="button"
              class={`reaction ${r.mine ? 'mine' : ''}`}
              key={r.emoji}
              aria-pressed={r.mine}
              aria-label={`${r.emoji} ${r.count}: ${r.names.join(', ')}`}
              title={r.names.join(', ')}
              disabled={!me || !referable}
              onClick={() => react(r.emoji)}
            >
              <Emoji emoji={r.emoji} decorative /> {r.count}
            </button>
          ))}
        </div>
      )}
      <span class="meta">
        <time dateTime={time.toISOString()}>{time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</time>
        {m.editedAt && !m.retracted && <span class="edited"> · edited</span>}
        {m.outgoing && chat.kind === 'chat' && (
          <span class="receipt" aria-label={m.delivered ? 'Delivered' : 'Sent'} title={m.delivered ? 'Delivered' : 'Sent'}>
            {m.delivered ? '✓✓' : '✓'}
          </span>
        )}
      </span>
    </li>
  );
}
