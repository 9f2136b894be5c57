// A person's avatar: their picture (XEP-0084 / XEP-0153) when we have it, else their initials on a colour derived
// from the name, so the same person always gets the same colour (dark enough for white letters: WCAG 4.5:1). Decorative: the name is always written next to it.
import type { Show } from '../../state/store';
import { initials } from '../../xmpp/avatar-data';

export function Avatar({ name, url, show, size }: { name: string; url?: string; show?: Show; size?: 'large' }) {
  let hue = 0;
  for (const ch of name) hue = (hue * 31 + ch.codePointAt(0)!) % 360;
  return (
    <span class={`avatar ${size ?? ''}`} style={url ? undefined : { background: `hsl(${hue} 60% 30%)` }} aria-hidden="true">
      {url ? <img class="avatar-img" src={url} alt="" /> : initials(name)}
      {show && <span class={`dot ${show}`} />}
    </span>
  );
}
