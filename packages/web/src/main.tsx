// Entry point: the store, the XMPP session, the UI, and the service worker (app shell cache, notifications).
import { render } from 'preact';
import { Store } from './state/store';
import { ChatSession } from './xmpp/session';
import { App } from './ui/app';
// Emoji ship with the app (nothing is fetched from elsewhere); the browser loads only the subsets a page uses.
import '@fontsource/noto-color-emoji/index.css';
import './ui/styles.css';

const store = new Store();
const session = new ChatSession(store);
render(<App store={store} session={session} />, document.getElementById('app')!);

// Stay logged in across reloads with the FAST token (XEP-0484); without one, the login screen shows.
addEventListener('pagehide', () => session.leavePage());

if (session.hasSavedSession) void session.resume();

if ('serviceWorker' in navigator && (location.protocol === 'https:' || location.hostname === 'localhost' || location.hostname === '127.0.0.1')) {
  navigator.serviceWorker.register('/sw.js').catch((err) => console.warn('service worker', err));
}

// For browser tests and debugging: the session, to simulate a network drop.
(window as unknown as { parley: unknown }).parley = { store, session };
