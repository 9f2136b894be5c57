// The chat app in a real browser (Debian's Chromium through playwright-core) against a real Parley: two people in
// two browser contexts register, add each other, see presence, chat with typing shown and delivery receipts, one
// reloads and stays logged in (FAST token, no password stored), one is away and gets the message on return, the
// phone layout, an accessibility scan (axe-core), and log out revoking the token. Screenshots go to
// $PARLEY_SCREENSHOTS (default: a temporary directory), to be looked at.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromiumMissing, ensureWebAppBuilt, launchChromium, type Browser } from './browser';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';

const require = createRequire(import.meta.url);
// What page.evaluate callbacks see (this file is compiled without the DOM library); a type only, since the
// callbacks run in the page.
type PageGlobals = {
  localStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void };
  document: { documentElement: { scrollWidth: number }; fonts: { ready: Promise<unknown> } };
  parley: { session: { dropConnection(): void } };
  axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ html: string }> }> }> };
};

type BrowserContext = import('playwright-core').BrowserContext;
type Page = import('playwright-core').Page;

describe('web app in Chromium', { skip: chromiumMissing }, () => {
  let ts: TestServer;
  let browser: Browser;
  let alice: { context: BrowserContext; page: Page };
  let bob: { context: BrowserContext; page: Page };
  const shots = process.env.PARLEY_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'parley-web-shots-'));
  let url: string;
  /** Requests to anywhere but this server (there must be none). */
  const elsewhere: string[] = [];

  before(async () => {
    ensureWebAppBuilt();
    // Plaintext auth off: the browser's WebSocket from loopback must count as secure on its own.
    ts = await startTestServer({ registration: { mode: 'open' }, c2s: { allow_plaintext_auth: false } } as never);
    url = `http://localhost:${ts.httpPort}/`;
    browser = await launchChromium();
    const open = async () => {
      // bypassCSP only so that the test can inject axe-core; the app itself runs under the server's CSP.
      const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, bypassCSP: true });
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error('page error:', err));
      // No request may leave the server.
      context.on('request', (req) => {
        const u = new URL(req.url());
        if (u.hostname !== 'localhost') elsewhere.push(req.url());
      });
      return { context, page };
    };
    alice = await open();
    bob = await open();
    console.log(`screenshots: ${shots}`);
  });

  after(async () => {
    await browser?.close();
    await ts?.stop();
  });

  const shot = async (page: Page, name: string) => {
    // Web fonts (the emoji font) load when first needed: wait for them, the screenshot shows what a person sees.
    await page.evaluate(() => (globalThis as unknown as PageGlobals).document.fonts.ready);
    await page.screenshot({ path: join(shots, `${name}.png`) });
  };

  async function register(page: Page, user: string): Promise<void> {
    await page.goto(url);
    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    await page.getByLabel('Address').fill(`${user}@localhost`);
    await page.getByLabel('Password').fill(`${user}-pass-1234`);
    if (user === 'alice') await shot(page, '01-register');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
  }

  it('registers two people, who add each other and see each other online', async () => {
    await register(alice.page, 'alice');
    await register(bob.page, 'bob');
    await alice.page.getByRole('button', { name: 'Add contact' }).click();
    await alice.page.getByLabel('Contact address').fill('bob@localhost');
    await alice.page.getByRole('button', { name: 'Add', exact: true }).click();
    await bob.page.getByText('alice@localhost wants to add you as a contact.').waitFor();
    await shot(bob.page, '02-request');
    await bob.page.getByRole('button', { name: 'Accept' }).click();
    await alice.page.getByRole('button', { name: /^bob@localhost\W+Available/ }).waitFor({ timeout: 15000 });
    await bob.page.getByRole('button', { name: /^alice@localhost\W+Available/ }).waitFor({ timeout: 15000 });
    await shot(alice.page, '03-contacts');
  });

  it('chats with typing shown and delivery receipts', async () => {
    await alice.page.getByRole('button', { name: /^bob@localhost/ }).click();
    await bob.page.getByRole('button', { name: /^alice@localhost/ }).click();
    const box = alice.page.getByLabel('Message to bob@localhost');
    await box.pressSequentially('Hello Bob, see https://example.org/x');
    await bob.page.getByText('alice@localhost is typing…').waitFor({ timeout: 10000 });
    await shot(bob.page, '04-typing');
    await box.press('Enter');
    await bob.page.locator('.msg.in .bubble', { hasText: 'Hello Bob' }).waitFor();
    // A link is a link, opened outside the app.
    assert.equal(await bob.page.locator('.msg.in a').getAttribute('href'), 'https://example.org/x');
    await alice.page.getByLabel('Delivered').waitFor({ timeout: 10000 });
    assert.equal(await bob.page.getByText('alice@localhost is typing…').count(), 0);
    await bob.page.getByLabel('Message to alice@localhost').fill('Hi Alice 👋');
    await bob.page.getByRole('button', { name: 'Send' }).click();
    await alice.page.locator('.msg.in .bubble', { hasText: 'Hi Alice 👋' }).waitFor();
    await shot(alice.page, '05-chat');
  });

  it("shows what the user's other device sends and receives (XEP-0280 carbons)", async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    context.on('request', (req) => {
      if (new URL(req.url()).hostname !== 'localhost') elsewhere.push(req.url());
    });
    const other = await context.newPage();
    await other.goto(url);
    await other.getByLabel('Address').fill('alice@localhost');
    await other.getByLabel('Password').fill('alice-pass-1234');
    await other.getByRole('button', { name: 'Log in' }).click();
    await other.getByRole('button', { name: /^bob@localhost/ }).click({ timeout: 20000 });
    await other.getByLabel('Message to bob@localhost').fill('From my phone');
    await other.getByLabel('Message to bob@localhost').press('Enter');
    await alice.page.locator('.msg.out .bubble', { hasText: 'From my phone' }).waitFor({ timeout: 10000 });
    await bob.page.getByLabel('Message to alice@localhost').fill('To both of you');
    await bob.page.getByLabel('Message to alice@localhost').press('Enter');
    await alice.page.locator('.msg.in .bubble', { hasText: 'To both of you' }).waitFor({ timeout: 10000 });
    await other.locator('.msg.in .bubble', { hasText: 'To both of you' }).waitFor({ timeout: 10000 });
    await context.close();
  });

  it('both join a group chat (XEP-0045), see who is there and talk', async () => {
    await alice.page.getByRole('button', { name: 'Join or create' }).click();
    await alice.page.getByLabel('Room name').fill('lobby');
    await alice.page.getByRole('button', { name: 'Join', exact: true }).click();
    await alice.page.getByText('1 person here').waitFor({ timeout: 10000 });
    // Bob finds the room in the public list (disco#items of the conference service).
    await bob.page.getByRole('button', { name: 'Join or create' }).click();
    await bob.page.getByRole('button', { name: '# lobby' }).click({ timeout: 10000 });
    await bob.page.getByText('2 people here').waitFor({ timeout: 10000 });
    await bob.page.getByLabel('Message to lobby').fill('Hello room');
    await bob.page.getByLabel('Message to lobby').press('Enter');
    await alice.page.locator('.msg.in', { hasText: 'Hello room' }).locator('.nick', { hasText: 'bob' }).waitFor({ timeout: 10000 });
    await alice.page.getByRole('button', { name: 'People (2)' }).click();
    await alice.page.getByRole('list', { name: 'People in this room' }).getByText('alice (you)').waitFor();
    await shot(alice.page, '05b-room');
    await alice.page.getByRole('button', { name: 'People (2)' }).click();
    await alice.page.getByRole('button', { name: /^bob@localhost/ }).click();
  });

  it('stays logged in across a reload with a FAST token, never storing the password, and shows the history', async () => {
    const stored = await alice.page.evaluate(() => JSON.stringify((globalThis as unknown as PageGlobals).localStorage));
    assert.doesNotMatch(stored, /alice-pass-1234/);
    assert.match(stored, /HT-SHA-256-NONE/);
    await alice.page.reload();
    await alice.page.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
    // XEP-0402: the room comes back from the bookmarks.
    await alice.page.getByRole('button', { name: /^lobby\W+2 here/ }).waitFor({ timeout: 10000 });
    await alice.page.getByRole('button', { name: /^bob@localhost/ }).click();
    // XEP-0313: the conversation comes back from the server's archive.
    await alice.page.locator('.msg.out .bubble', { hasText: 'Hello Bob' }).waitFor({ timeout: 10000 });
    await alice.page.locator('.msg.in .bubble', { hasText: 'Hi Alice' }).waitFor();
    await shot(alice.page, '06-after-reload');
  });

  it('delivers to someone who was away when they come back', async () => {
    // Closing the tab says goodbye (unavailable presence, stream closed) rather than leaving a session to resume.
    await bob.page.close({ runBeforeUnload: true });
    await alice.page.getByRole('button', { name: /^bob@localhost\W+Offline/ }).waitFor({ timeout: 15000 });
    await alice.page.getByLabel('Message to bob@localhost').fill('Are you there?');
    await alice.page.getByLabel('Message to bob@localhost').press('Enter');
    bob.page = await bob.context.newPage();
    await bob.page.goto(url);
    await bob.page.getByRole('button', { name: /^alice@localhost/ }).click({ timeout: 20000 });
    await bob.page.locator('.msg.in .bubble', { hasText: 'Are you there?' }).waitFor({ timeout: 10000 });
    // Once, not twice (offline delivery and the archive both have it).
    assert.equal(await bob.page.locator('.msg.in .bubble', { hasText: 'Are you there?' }).count(), 1);
  });

  it('shows a lost connection, reconnects and resumes the session with nothing lost or doubled (XEP-0198)', async () => {
    await alice.page.evaluate(() => (globalThis as unknown as PageGlobals).parley.session.dropConnection());
    await alice.page.getByText('Connection lost — reconnecting…').waitFor({ timeout: 5000 });
    await shot(alice.page, '07a-reconnecting');
    await bob.page.getByLabel('Message to alice@localhost').fill('Sent while you were cut off');
    await bob.page.getByLabel('Message to alice@localhost').press('Enter');
    await alice.page.getByText('Connection lost — reconnecting…').waitFor({ state: 'detached', timeout: 20000 });
    await alice.page.locator('.msg.in .bubble', { hasText: 'Sent while you were cut off' }).waitFor({ timeout: 10000 });
    await alice.page.waitForTimeout(500);
    assert.equal(await alice.page.locator('.msg.in .bubble', { hasText: 'Sent while you were cut off' }).count(), 1);
  });

  it('works on a phone-sized screen, one pane at a time', async () => {
    await alice.page.setViewportSize({ width: 390, height: 844 });
    await alice.page.getByRole('button', { name: 'Back to contacts' }).click();
    await alice.page.getByRole('heading', { name: 'Contacts' }).waitFor();
    assert.equal(await alice.page.locator('.chat').isVisible(), false);
    await shot(alice.page, '07-phone-contacts');
    await alice.page.getByRole('button', { name: /^bob@localhost/ }).click();
    assert.equal(await alice.page.locator('.sidebar').isVisible(), false);
    await alice.page.getByLabel('Message to bob@localhost').waitFor();
    const width = await alice.page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no horizontal scrolling (${width}px)`);
    await shot(alice.page, '08-phone-chat');
    await alice.page.setViewportSize({ width: 1100, height: 720 });
  });

  it('passes an accessibility scan (axe-core) with no serious violations, in light and dark', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      await alice.page.emulateMedia({ colorScheme: scheme });
      await alice.page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
      const violations = (await alice.page.evaluate(async () => {
        return (await (globalThis as unknown as PageGlobals).axe.run()).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html) }));
      })) as Array<{ id: string; impact: string }>;
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(serious, [], `${scheme}: ${JSON.stringify(serious)}`);
      await shot(alice.page, `09-${scheme}`);
    }
  });

  it('offers to create an account only where the server allows it (XEP-0077)', async () => {
    const closed = await startTestServer({ registration: { mode: 'closed' } } as never);
    try {
      const page = await alice.context.newPage();
      await page.goto(`http://localhost:${closed.httpPort}/`);
      await page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
      // The check is one stream round trip; give it time to come back before looking.
      await page.waitForTimeout(1000);
      assert.equal(await page.getByRole('button', { name: 'New here? Create an account' }).count(), 0);
      // A wrong password is said plainly, and nothing is kept.
      await page.getByLabel('Address').fill('nobody@localhost');
      await page.getByLabel('Password').fill('wrong');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').getByText('Wrong address or password.').waitFor({ timeout: 10000 });
      assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.session')), null);
      await shot(page, '11-wrong-password');
      await page.close();
    } finally {
      await closed.stop();
    }
  });

  it('logs out, revoking the token (XEP-0484 §3.5)', async () => {
    const saved = await alice.page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.session'));
    assert.ok(saved);
    await alice.page.getByRole('button', { name: 'Log out' }).click();
    await alice.page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
    assert.equal(await alice.page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.session')), null);
    // Put the old token back and reload: the server no longer accepts it.
    await alice.page.evaluate((s) => (globalThis as unknown as PageGlobals).localStorage.setItem('parley.session', s), saved);
    await alice.page.reload();
    await alice.page.getByText('Your session has ended; please log in again.').waitFor({ timeout: 20000 });
    await shot(alice.page, '10-logged-out');
  });

  it('made no request to anywhere but this server', () => {
    assert.deepEqual(elsewhere, []);
  });
});
