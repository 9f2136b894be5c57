// The emoji picker and the emoji the app offers, drawn from the bundled emoji images (emoji-image.tsx), so they
// look the same everywhere, headless Chromium on Debian included, and nothing is fetched from elsewhere.
import { useEffect, useRef } from 'preact/hooks';
import { Emoji } from './emoji-image';

/** The reactions one click away (the usual set of chat apps). */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

/** What the picker offers, with names for screen readers. */
export const EMOJI: Array<[string, string]> = [
  ['😀', 'grinning face'],
  ['😁', 'beaming face'],
  ['😂', 'tears of joy'],
  ['🤣', 'rolling on the floor laughing'],
  ['😊', 'smiling face'],
  ['😇', 'halo'],
  ['🙂', 'slightly smiling face'],
  ['😉', 'winking face'],
  ['😍', 'heart eyes'],
  ['😘', 'blowing a kiss'],
  ['😋', 'yum'],
  ['😎', 'sunglasses'],
  ['🤔', 'thinking face'],
  ['🤨', 'raised eyebrow'],
  ['😐', 'neutral face'],
  ['🙄', 'rolling eyes'],
  ['😏', 'smirking face'],
  ['😮', 'open mouth'],
  ['😴', 'sleeping face'],
  ['😢', 'crying face'],
  ['😭', 'loudly crying'],
  ['😱', 'screaming in fear'],
  ['😡', 'angry face'],
  ['🤯', 'mind blown'],
  ['🥳', 'partying face'],
  ['🤗', 'hugging face'],
  ['🙈', 'see-no-evil monkey'],
  ['👋', 'waving hand'],
  ['👍', 'thumbs up'],
  ['👎', 'thumbs down'],
  ['👏', 'clapping hands'],
  ['🙌', 'raising hands'],
  ['🙏', 'folded hands'],
  ['💪', 'flexed biceps'],
  ['👀', 'eyes'],
  ['🤝', 'handshake'],
  ['❤️', 'red heart'],
  ['💔', 'broken heart'],
  ['🔥', 'fire'],
  ['✨', 'sparkles'],
  ['🎉', 'party popper'],
  ['💯', 'hundred points'],
  ['✅', 'check mark'],
  ['❌', 'cross mark'],
  ['⭐', 'star'],
  ['☕', 'hot beverage'],
  ['🍕', 'pizza'],
  ['🚀', 'rocket'],
];

/** A grid of emoji; picking one calls onPick, Escape or a click outside closes it. */
export function EmojiPicker({ onPick, onClose, label = 'Choose an emoji' }: { onPick: (emoji: string) => void; onClose: () => void; label?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelector('button')?.focus();
    const away = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) onClose();
    };
    document.addEventListener('mousedown', away);
    return () => document.removeEventListener('mousedown', away);
  }, [onClose]);
  return (
    <div
      class="emoji-picker"
      role="dialog"
      aria-label={label}
      ref={ref}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onClose();
        }
      }}
    >
      {EMOJI.map(([emoji, name]) => (
        <button type="button" class="emoji" key={emoji} aria-label={name} title={name} onClick={() => onPick(emoji)}>
          <Emoji emoji={emoji} decorative />
        </button>
      ))}
    </div>
  );
}
