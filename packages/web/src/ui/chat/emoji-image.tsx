// Emoji drawn from bundled Twemoji SVG files (@twemoji/svg; graphics CC-BY 4.0, Twitter and jdecked), so they
// look right wherever the app runs: a colour emoji font (COLRv1) is not painted by every browser setup (headless
// Chromium without a GPU draws nothing), and nothing may be fetched from elsewhere. Each emoji is its own small
// file under assets/, loaded only when shown, as the background of the emoji's own text: the text stays (see-
// through) for copying, searching and screen readers.
/// <reference types="vite/client" />
import type { JSX } from 'preact';

// Every file, by name (code points in hex joined by '-'); Vite emits them as hashed assets (vite.config.ts keeps
// them files rather than inlining them).
// Keys relative to the package folder ('./1f44d.svg') keep the table in the script small.
const FILES = import.meta.glob<string>('./*.svg', {
  query: '?url',
  import: 'default',
  eager: true,
  base: '../../../../../node_modules/@twemoji/svg',
});
const BY_NAME = new Map<string, string>();
for (const [path, url] of Object.entries(FILES)) BY_NAME.set(path.slice(path.lastIndexOf('/') + 1, -4), url);

/** Twemoji's file name: the code points, without U+FE0F unless the emoji is a ZWJ sequence. */
function fileName(emoji: string): string {
  const text = emoji.includes('\u200d') ? emoji : emoji.replace(/\uFE0F/g, '');
  return [...text].map((c) => c.codePointAt(0)!.toString(16)).join('-');
}

/** The bundled image of `emoji`, if there is one. */
export function emojiUrl(emoji: string): string | undefined {
  return BY_NAME.get(fileName(emoji)) ?? BY_NAME.get(fileName(emoji.replace(/\uFE0F/g, '')));
}

/** One emoji as an image; `decorative` when a label elsewhere already says what it is. */
export function Emoji({ emoji, decorative = false }: { emoji: string; decorative?: boolean }) {
  const url = emojiUrl(emoji);
  if (!url) return <span aria-hidden={decorative || undefined}>{emoji}</span>;
  return (
    <span class="emoji-img" style={{ backgroundImage: `url("${url}")` }} aria-hidden={decorative || undefined}>
      {emoji}
    </span>
  );
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const PICTOGRAPHIC = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;

/** Text with every emoji that has a bundled image drawn as one; the rest stays text. */
export function EmojiText({ text }: { text: string }) {
  if (!PICTOGRAPHIC.test(text)) return <>{text}</>;
  const out: Array<string | JSX.Element> = [];
  let run = '';
  for (const { segment } of segmenter.segment(text)) {
    const url = PICTOGRAPHIC.test(segment) ? emojiUrl(segment) : undefined;
    if (!url) {
      run += segment;
      continue;
    }
    if (run) out.push(run);
    run = '';
    out.push(
      <span class="emoji-img" style={{ backgroundImage: `url("${url}")` }}>
        {segment}
      </span>,
    );
  }
  if (run) out.push(run);
  return <>{out}</>;
}
