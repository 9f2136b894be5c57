// The chat app's account and contact features in Chromium against a real Parley with registration closed (the
// default): what a first-time visitor reads, status message, renaming a contact, avatars set by one person and
// seen by the other (XEP-0084, hash-checked), blocking (XEP-0191: a blocked contact's message is not delivered)
// and unblocking, removing a contact, changing the password (XEP-0077 §3.3) with a new FAST token and a new login,
// and the BOSH fallback (XEP-0206) when the page cannot open a WebSocket. Screenshots go to $PARLEY_SCREENSHOTS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromiumMissing, ensureWebAppBuilt, launchChromium, type Browser } from './browser';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';

const require = createRequire(import.meta.url);
// What page.evaluate callbacks see (this file is compiled without the DOM library).
type PageGlobals = {
  localStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void };
  document: {
    documentElement: { scrollWidth: number };
    fonts: { ready: Promise<unknown> };
    createElement(tag: 'canvas'): { width: number; height: number; getContext(k: '2d'): { fillStyle: string; fillRect(x: number, y: number, w: number, h: number): void }; toDataURL(type: string): string };
  };
  axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ html: string }> }> }> };
  WebSocket: unknown;
};

type Page = import('playwright-core').Page;

describe('web app: account, contacts, avatars, BOSH', { skip: chromiumMissing }, () => {
  let ts: TestServer;
  let browser: Browser;
  let carol: Page;
  let dave: Page;
  const shots = process.env.PARLEY_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'parley-web-account-shots-'));
  let url: string;
  const elsewhere: string[] = [];

  before(async () => {
    ensureWebAppBuilt();
    // Registration closed, as after `npm start`; plaintext auth off, so BOSH from loopback must count as secure too.
    ts = await startTestServer({ registration: { mode: 'closed' }, c2s: { allow_plaintext_auth: false } } as never);
    await ts.createUser('carol', 'carol-pass-1');
    await ts.createUser('dave', 'dave-pass-1');
    url = `http://localhost:${ts.httpPort}/`;
    browser = await launchChromium();
    carol = await open();
    dave = await open();
    console.log(`screenshots: ${shots}`);
  });

  after(async () => {
    await browser?.close();
    await ts?.stop();
  });

  async function open(opts: { noWebSocket?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, bypassCSP: true });
    if (opts.noWebSocket) {
      // A network where WebSocket connections cannot be made: the constructor fails as a blocked one would.
      // (A string: tsx would wrap a named function in a helper the page does not have.)
      await context.addInitScript({ content: "window.WebSocket = function () { throw new Error('WebSocket blocked by this test'); };" });
    }
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') console.error(`page ${m.type()}: ${m.text()}`);
    });
    // Confirmations (block, remove) are accepted.
    page.on('dialog', (d) => void d.accept());
    context.on('request', (req) => {
      if (new URL(req.url()).hostname !== 'localhost') elsewhere.push(req.url());
    });
    return page;
  }

  const shot = async (page: Page, name: string) => {
    await page.evaluate(() => (globalThis as unknown as PageGlobals).document.fonts.ready);
    await page.screenshot({ path: join(shots, `${name}.png`) });
  };

  async function login(page: Page, user: string, password: string): Promise<void> {
    await page.goto(url);
    await page.getByLabel('Address').fill(`${user}@localhost`);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
  }

  async function noHorizontalScroll(page: Page): Promise<void> {
    const width = await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no horizontal scrolling (${width}px)`);
  }

  async function axe(page: Page, label: string): Promise<void> {
    await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
    const violations = (await page.evaluate(async () => {
      return (await (globalThis as unknown as PageGlobals).axe.run()).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html) }));
    })) as Array<{ id: string; impact: string }>;
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(serious, [], `${label}: ${JSON.stringify(serious)}`);
  }

  it('tells a first-time visitor how to get an account when registration is closed', async () => {
    await carol.goto(url);
    await carol.getByRole('heading', { name: 'No account yet?' }).waitFor({ timeout: 10000 });
    assert.equal(await carol.getByRole('button', { name: 'New here? Create an account' }).count(), 0);
    await carol.getByText('I run this server').click();
    // The commands shown are the real ones.
    await carol.getByText('npx parley user add alice').waitFor();
    await carol.getByText('npm start -- --registration open').waitFor();
    await shot(carol, 'a01-first-run');
    await axe(carol, 'first run');
    await carol.setViewportSize({ width: 390, height: 844 });
    await noHorizontalScroll(carol);
    await shot(carol, 'a02-first-run-phone');
    await carol.setViewportSize({ width: 1100, height: 720 });
  });

  it('two people log in and add each other; a status message shows to the contact', async () => {
    await login(carol, 'carol', 'carol-pass-1');
    await login(dave, 'dave', 'dave-pass-1');
    await carol.getByRole('button', { name: 'Add contact' }).click();
    await carol.getByLabel('Contact address').fill('dave@localhost');
    await carol.getByRole('button', { name: 'Add', exact: true }).click();
    await dave.getByRole('button', { name: 'Accept' }).click({ timeout: 15000 });
    await carol.getByRole('button', { name: /^dave@localhost\W+Available/ }).waitFor({ timeout: 15000 });
    await carol.getByLabel('Status message').fill('At lunch until two');
    await carol.getByLabel('Status message').press('Enter');
    await dave.getByRole('button', { name: /^carol@localhost\W+At lunch until two/ }).waitFor({ timeout: 10000 });
  });

  it('renames a contact (roster set with a name)', async () => {
    await carol.getByRole('button', { name: /^dave@localhost/ }).click();
    await carol.getByRole('button', { name: 'Options for dave@localhost' }).click();
    await carol.getByLabel('Name shown for dave@localhost').fill('Dave from work');
    await carol.getByRole('button', { name: 'Save name' }).click();
    await carol.getByRole('button', { name: /^Dave from work\W+Available/ }).waitFor({ timeout: 10000 });
    await carol.getByRole('heading', { name: 'Dave from work' }).waitFor();
    await shot(carol, 'a03-contact-options');
    await axe(carol, 'contact options');
    await carol.keyboard.press('Escape');
    await carol.getByLabel('Name shown for dave@localhost').waitFor({ state: 'detached' });
    // Focus goes back to the button that opened the options.
    assert.equal(await carol.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent), 'Options for Dave from work');
  });

  it('refuses a subscription request (RFC 6121 §3.2.1)', async () => {
    const frank = await ts.createUser('frank', 'frank-pass-1').then(() => ts.client('frank', { password: 'frank-pass-1' }));
    try {
      await frank.send("<presence to='carol@localhost' type='subscribe'/>");
      await carol.getByText('frank@localhost wants to add you as a contact.').waitFor({ timeout: 10000 });
      await carol.getByRole('button', { name: 'Refuse' }).click();
      const answer = await frank.waitFor((el) => el.name === 'presence' && el.attrs.type === 'unsubscribed', 10000);
      assert.equal(answer.attrs.from, 'carol@localhost');
      await carol.getByText('frank@localhost wants to add you as a contact.').waitFor({ state: 'detached' });
      assert.equal(await carol.getByRole('button', { name: /^frank@localhost/ }).count(), 0);
    } finally {
      await frank.stop();
    }
  });

  it('sets an avatar that the contact sees, and keeps it across a reload (XEP-0084)', async () => {
    await carol.getByRole('button', { name: 'Settings' }).click();
    await carol.getByRole('heading', { name: 'Settings' }).waitFor();
    // A 400×300 picture drawn in the page: the app crops and scales it to 192 px.
    const picture = await carol.evaluate(() => {
      const canvas = (globalThis as unknown as PageGlobals).document.createElement('canvas');
      canvas.width = 400;
      canvas.height = 300;
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#e8710a';
      ctx.fillRect(0, 0, 400, 300);
      ctx.fillStyle = '#1a73e8';
      ctx.fillRect(150, 100, 100, 100);
      return canvas.toDataURL('image/png').split(',')[1]!;
    });
    await carol.getByLabel('Choose a picture').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: Buffer.from(picture, 'base64') });
    await carol.getByText('Your picture is updated.').waitFor({ timeout: 15000 });
    const carolsSrc = await carol.locator('.setting .avatar img').getAttribute('src');
    assert.match(carolsSrc ?? '', /^data:image\/png;base64,/);
    // 192×192 PNG: the IHDR width and height.
    const png = Buffer.from(carolsSrc!.split(',')[1]!, 'base64');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [192, 192]);
    await shot(carol, 'a04-settings');
    await axe(carol, 'settings');
    await carol.emulateMedia({ colorScheme: 'dark' });
    await axe(carol, 'settings, dark');
    await shot(carol, 'a04b-settings-dark');
    await carol.emulateMedia({ colorScheme: 'light' });

    const carolOnDave = dave.getByRole('button', { name: /^carol@localhost/ }).locator('img.avatar-img');
    await carolOnDave.waitFor({ timeout: 15000 });
    assert.equal(await carolOnDave.getAttribute('src'), carolsSrc);
    await shot(dave, 'a05-avatar-seen');
    await dave.reload();
    await dave.getByRole('button', { name: /^carol@localhost/ }).locator('img.avatar-img').waitFor({ timeout: 20000 });
  });

  it('blocks a contact, whose messages then do not arrive, and unblocks (XEP-0191)', async () => {
    await dave.getByRole('button', { name: /^carol@localhost/ }).click();
    await dave.getByRole('button', { name: 'Options for carol@localhost' }).click();
    await dave.getByRole('button', { name: 'Block' }).click();
    await dave.getByText('You block carol@localhost').waitFor({ timeout: 10000 });
    await dave.getByRole('button', { name: /^carol@localhost\W+Blocked/ }).waitFor();
    await shot(dave, 'a06-blocked');
    // Blocked: Carol sees Dave offline and her message is not delivered.
    await carol.getByRole('button', { name: /^Dave from work\W+Offline/ }).waitFor({ timeout: 10000 });
    await carol.getByRole('button', { name: /^Dave from work/ }).click();
    await carol.getByLabel('Message to Dave from work').fill('Message while blocked');
    await carol.getByLabel('Message to Dave from work').press('Enter');
    await dave.waitForTimeout(1500);
    assert.equal(await dave.getByText('Message while blocked').count(), 0);

    await dave.getByRole('button', { name: 'Settings' }).click();
    const blockedList = dave.getByRole('list', { name: 'Blocked' });
    await blockedList.locator('.blocked-jid', { hasText: 'carol@localhost' }).waitFor();
    await dave.getByRole('button', { name: 'Unblock carol@localhost' }).click();
    await dave.getByText('You block nobody.').waitFor({ timeout: 10000 });
    await carol.getByRole('button', { name: /^Dave from work\W+Available/ }).waitFor({ timeout: 10000 });
    await carol.getByLabel('Message to Dave from work').fill('Message after unblocking');
    await carol.getByLabel('Message to Dave from work').press('Enter');
    await dave.getByRole('button', { name: 'Close' }).click();
    await dave.getByRole('button', { name: /^carol@localhost/ }).click();
    await dave.locator('.msg.in .bubble', { hasText: 'Message after unblocking' }).waitFor({ timeout: 10000 });
    assert.equal(await dave.getByText('Message while blocked').count(), 0);
  });

  it('changes the password, stays logged in with a new token, and only the new password logs in', async () => {
    const before = await carol.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.session'));
    await carol.getByRole('button', { name: 'Settings' }).click();
    await carol.getByLabel('New password', { exact: true }).fill('carol-pass-2');
    await carol.getByLabel('New password again').fill('carol-pass-2');
    await carol.getByRole('button', { name: 'Change password' }).click();
    await carol.getByText('Password changed.').waitFor({ timeout: 20000 });
    const after = await carol.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.session'));
    assert.ok(after && after !== before, 'a new FAST token replaced the revoked one');
    assert.doesNotMatch(after, /carol-pass/);
    // Still chatting.
    await carol.getByRole('button', { name: 'Close' }).click();
    await carol.getByRole('button', { name: /^Dave from work\W+Available/ }).click({ timeout: 15000 });
    await carol.getByLabel('Message to Dave from work').fill('After the password change');
    await carol.getByLabel('Message to Dave from work').press('Enter');
    await dave.locator('.msg.in .bubble', { hasText: 'After the password change' }).waitFor({ timeout: 10000 });
    // The new token logs in after a reload.
    await carol.reload();
    await carol.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
    await carol.getByRole('button', { name: 'Log out' }).click();
    await carol.getByLabel('Address').fill('carol@localhost');
    await carol.getByLabel('Password').fill('carol-pass-1');
    await carol.getByRole('button', { name: 'Log in' }).click();
    await carol.getByRole('alert').getByText('Wrong address or password.').waitFor({ timeout: 15000 });
    // The address stays filled in after a failed attempt.
    assert.equal(await carol.getByLabel('Address').inputValue(), 'carol@localhost');
    await carol.getByLabel('Password').fill('carol-pass-2');
    await carol.getByRole('button', { name: 'Log in' }).click();
    await carol.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
  });

  it('falls back to BOSH when the WebSocket cannot connect, and chats over it', async () => {
    const page = await open({ noWebSocket: true });
    await login(page, 'dave', 'dave-pass-1');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByText('Connected over HTTP (BOSH)').waitFor();
    await page.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('button', { name: /^carol@localhost/ }).click();
    await page.getByLabel('Message to carol@localhost').fill('Hello over BOSH');
    await page.getByLabel('Message to carol@localhost').press('Enter');
    await carol.getByRole('button', { name: /^Dave from work/ }).click();
    await carol.locator('.msg.in .bubble', { hasText: 'Hello over BOSH' }).waitFor({ timeout: 15000 });
    await carol.getByLabel('Message to Dave from work').fill('Answer to BOSH');
    await carol.getByLabel('Message to Dave from work').press('Enter');
    await page.locator('.msg.in .bubble', { hasText: 'Answer to BOSH' }).waitFor({ timeout: 15000 });
    await shot(page, 'a07-bosh-chat');
    // A reload logs in again over BOSH with the FAST token.
    await page.reload();
    await page.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
    // Logging out revokes the token over BOSH too (XEP-0484 §3.5): put it back, and the server refuses it.
    const saved = await page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('parley.session'));
    assert.ok(saved);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to Parley' }).waitFor();
    await page.evaluate((s) => (globalThis as unknown as PageGlobals).localStorage.setItem('parley.session', s), saved);
    await page.reload();
    await page.getByText('Your session has ended; please log in again.').waitFor({ timeout: 20000 });
    await page.context().close();
  });

  // TODO: about one run in three the session outlives the page (seen right after login, with requests in flight);
  // marked todo so that it runs and reports without failing the suite until the cause is found.
  it('says goodbye over BOSH when the page closes, rather than leaving the session to time out', { todo: 'flaky: the terminate sometimes does not end the session' }, async () => {
    const resources = () => new Set(ts.running.server.sessions.ofAccount('dave@localhost').map((x) => x.jid.toString()));
    const before = resources();
    const page = await open({ noWebSocket: true });
    await login(page, 'dave', 'dave-pass-1');
    const bosh = [...resources()].filter((r) => !before.has(r));
    assert.equal(bosh.length, 1, 'the BOSH page has a session');
    await page.close({ runBeforeUnload: true });
    const deadline = Date.now() + 5000;
    while (resources().has(bosh[0]!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!resources().has(bosh[0]!), 'the BOSH session ended with the page (inactivity would take 60 s)');
  });

  it('registers over BOSH where registration is open and the WebSocket cannot connect (XEP-0077 over XEP-0206)', async () => {
    const open_ = await startTestServer({ registration: { mode: 'open' }, c2s: { allow_plaintext_auth: false } } as never);
    try {
      const page = await open({ noWebSocket: true });
      await page.goto(`http://localhost:${open_.httpPort}/`);
      await page.getByRole('button', { name: 'New here? Create an account' }).click({ timeout: 15000 });
      assert.equal(await page.getByRole('heading', { name: 'No account yet?' }).count(), 0);
      await page.getByLabel('Address').fill('erin@localhost');
      await page.getByLabel('Password').fill('erin-pass-1');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
      await page.context().close();
    } finally {
      await open_.stop();
    }
  });

  it('removes a contact (roster remove)', async () => {
    await dave.getByRole('button', { name: /^carol@localhost/ }).click();
    await dave.getByRole('button', { name: 'Options for carol@localhost' }).click();
    await dave.getByRole('button', { name: 'Remove contact' }).click();
    await dave.getByRole('button', { name: /^carol@localhost/ }).waitFor({ state: 'detached', timeout: 10000 });
  });

  it('fits the new panels on a phone screen', async () => {
    await carol.setViewportSize({ width: 390, height: 844 });
    // A chat is open: on a phone it fills the screen, the contact list is one step back.
    await carol.getByRole('button', { name: 'Options for Dave from work' }).click();
    await noHorizontalScroll(carol);
    await shot(carol, 'a08-phone-contact-options');
    await carol.keyboard.press('Escape');
    await carol.getByRole('button', { name: 'Back to contacts' }).click();
    await carol.getByRole('button', { name: 'Settings' }).click();
    await carol.getByRole('heading', { name: 'Settings' }).waitFor();
    assert.equal(await carol.locator('.sidebar').isVisible(), false);
    await noHorizontalScroll(carol);
    await shot(carol, 'a09-phone-settings');
    await carol.getByRole('button', { name: 'Back to contacts' }).click();
    await carol.getByRole('heading', { name: 'Contacts' }).waitFor();
    await noHorizontalScroll(carol);
    await shot(carol, 'a10-phone-contacts');
  });

  it('made no request to anywhere but this server', () => {
    assert.deepEqual(elsewhere, []);
  });
});
