// The chat app's message features in a real browser (Debian's Chromium through playwright-core) against a real
// Parley, under the server's own Content-Security-Policy: two people correct (XEP-0308), delete (XEP-0424), answer
// (XEP-0461) and react to (XEP-0444) messages in a one-to-one chat and in a room; a third occupant on a plain XMPP
// connection tries to correct and delete someone else's room message and is ignored; an image goes up through
// HTTP File Upload (XEP-0363) with XEP-0066 and shows inline on the other side; the emoji picker inserts emoji;
// after a reload the archive (XEP-0313) brings back the conversation with corrections, deletions and reactions
// applied; an accessibility scan (axe-core) runs over the new controls. Screenshots go to $PARLEY_SCREENSHOTS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { checkerboardPng, chromiumMissing, ensureWebAppBuilt, launchChromium, type Browser } from './browser';
import { startTestServer, type TestClient, type TestServer } from '../../packages/server/src/testing/harness';

const require = createRequire(import.meta.url);
type PageGlobals = {
  document: { fonts: { ready: Promise<unknown> } };
  axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ html: string }> }> }> };
};
type Page = import('playwright-core').Page;


describe('web app message features in Chromium', { skip: chromiumMissing }, () => {
  let ts: TestServer;
  let browser: Browser;
  let alice: Page;
  let bob: Page;
  let carol: TestClient | undefined;
  const shots = process.env.PARLEY_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'parley-web-shots-'));
  let url: string;
  const elsewhere: string[] = [];
  const pageErrors: string[] = [];
  /** CSP violations the page reports: the app must work under the server's policy. */
  const cspViolations: string[] = [];

  before(async () => {
    ensureWebAppBuilt();
    ts = await startTestServer({ registration: { mode: 'open' }, c2s: { allow_plaintext_auth: false } } as never);
    url = `http://localhost:${ts.httpPort}/`;
    browser = await launchChromium();
    const open = async () => {
      // The upload service is this server's HTTPS port with a self-signed certificate: trusted here as a user
      // would trust their server's. The CSP is NOT bypassed: uploads and previews must pass the real policy.
      const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, ignoreHTTPSErrors: true });
      const page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(String(err)));
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
      });
      page.on('dialog', (d) => void d.accept());
      context.on('request', (req) => {
        if (new URL(req.url()).hostname !== 'localhost') elsewhere.push(req.url());
      });
      return page;
    };
    alice = await open();
    bob = await open();
    console.log(`screenshots: ${shots}`);
  });

  after(async () => {
    await carol?.stop().catch(() => {});
    await browser?.close();
    await ts?.stop();
  });

  const shot = async (page: Page, name: string) => {
    await page.evaluate(() => (globalThis as unknown as PageGlobals).document.fonts.ready);
    await page.screenshot({ path: join(shots, `m-${name}.png`) });
  };
  /** The message whose own text (not a quote of it in a reply) contains `text`. */
  const bubble = (page: Page, text: string | RegExp) => page.locator('.msg').filter({ has: page.locator('.text', { hasText: text }) });
  const actions = async (page: Page, text: string | RegExp) => {
    await bubble(page, text).getByRole('button', { name: 'Message actions' }).click();
  };

  async function register(page: Page, user: string): Promise<void> {
    await page.goto(url);
    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    await page.getByLabel('Address').fill(`${user}@localhost`);
    await page.getByLabel('Password').fill(`${user}-pass-1234`);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
  }

  it('two people become contacts and open their chat', async () => {
    await register(alice, 'alice');
    await register(bob, 'bob');
    await alice.getByRole('button', { name: 'Add contact' }).click();
    await alice.getByLabel('Contact address').fill('bob@localhost');
    await alice.getByRole('button', { name: 'Add', exact: true }).click();
    await bob.getByRole('button', { name: 'Accept' }).click({ timeout: 15000 });
    await alice.getByRole('button', { name: /^bob@localhost\W+Available/ }).click({ timeout: 15000 });
    await bob.getByRole('button', { name: /^alice@localhost/ }).click();
  });

  it('corrects the last message with the up arrow (XEP-0308); the other side shows the new text, marked edited', async () => {
    const box = alice.getByLabel('Message to bob@localhost');
    await box.fill('Lunch at noon?');
    await box.press('Enter');
    await bubble(bob, 'Lunch at noon?').waitFor({ timeout: 10000 });
    await box.press('ArrowUp');
    await alice.getByText('Editing your message').waitFor();
    assert.equal(await box.inputValue(), 'Lunch at noon?');
    await box.fill('Lunch at 1pm?');
    await box.press('Enter');
    await bubble(bob, 'Lunch at 1pm?').getByText('edited').waitFor({ timeout: 10000 });
    assert.equal(await bubble(bob, 'Lunch at noon?').count(), 0);
    assert.equal(await bubble(alice, 'Lunch at 1pm?').count(), 1);
  });

  it('answers a message (XEP-0461): a quote above the text, the fallback quote not shown as text', async () => {
    await actions(bob, 'Lunch at 1pm?');
    await bob.getByRole('button', { name: 'Reply', exact: true }).click();
    await bob.getByText('Replying to').waitFor();
    await shot(bob, '01-replying');
    await bob.getByLabel('Message to alice@localhost').fill('Sounds good');
    await bob.getByLabel('Message to alice@localhost').press('Enter');
    const reply = bubble(alice, 'Sounds good');
    await reply.waitFor({ timeout: 10000 });
    assert.equal(await reply.locator('.reply-quote .reply-text').textContent(), 'Lunch at 1pm?');
    assert.equal(await reply.locator('.text').textContent(), 'Sounds good');
    assert.doesNotMatch((await reply.textContent()) ?? '', /wrote:|^>/);
  });

  it('reacts with emoji (XEP-0444): counts and who, and a click takes one back', async () => {
    await actions(alice, 'Sounds good');
    await alice.getByRole('button', { name: 'React with 👍' }).click();
    await bob.getByRole('button', { name: /^👍 1: alice@localhost$/ }).waitFor({ timeout: 10000 });
    await bob.getByRole('button', { name: /^👍 1/ }).click();
    await alice.getByRole('button', { name: /^👍 2: You, bob@localhost$/ }).waitFor({ timeout: 10000 });
    // A second reaction from the picker of all emoji.
    await actions(bob, 'Sounds good');
    await bob.getByRole('button', { name: 'More reactions' }).click();
    await bob.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'party popper' }).click();
    await alice.getByRole('button', { name: /^🎉 1: bob@localhost$/ }).waitFor({ timeout: 10000 });
    // Alice takes hers back: 👍 is Bob's alone.
    await alice.getByRole('button', { name: /^👍 2/ }).click();
    await bob.getByRole('button', { name: /^👍 1: You$/ }).waitFor({ timeout: 10000 });
    await shot(alice, '02-reactions');
  });

  it('deletes a message for everyone (XEP-0424)', async () => {
    await bob.getByLabel('Message to alice@localhost').fill('oops, wrong chat');
    await bob.getByLabel('Message to alice@localhost').press('Enter');
    await bubble(alice, 'oops, wrong chat').waitFor({ timeout: 10000 });
    await actions(bob, 'oops, wrong chat');
    await bob.getByRole('button', { name: 'Delete' }).click();
    await alice.getByText('This message was deleted').waitFor({ timeout: 10000 });
    assert.equal(await bubble(alice, 'oops, wrong chat').count(), 0);
    assert.equal(await bubble(bob, 'oops, wrong chat').count(), 0);
  });

  it('inserts emoji from the picker, drawn from the bundled emoji images', async () => {
    await alice.getByRole('button', { name: 'Insert emoji' }).click();
    await alice.getByRole('dialog', { name: 'Choose an emoji' }).getByRole('button', { name: 'rocket' }).click();
    const box = alice.getByLabel('Message to bob@localhost');
    await box.press('End');
    await box.pressSequentially(' ready');
    assert.equal(await box.inputValue(), '🚀 ready');
    await box.press('Enter');
    await bubble(bob, '🚀 ready').waitFor({ timeout: 10000 });
    // Drawn from the bundled emoji images (a colour emoji font is not painted by headless Chromium): loaded.
    const drawn = await bubble(bob, '🚀 ready').locator('.emoji-img').evaluate(async (el) => {
      const url = /url\("(.+)"\)/.exec((el as unknown as { style: { backgroundImage: string } }).style.backgroundImage)?.[1];
      const img = new (globalThis as unknown as { Image: new () => { src: string; decode(): Promise<void>; naturalWidth: number } }).Image();
      img.src = url ?? '';
      await img.decode();
      return { url, width: img.naturalWidth, text: (el as unknown as { textContent: string }).textContent };
    });
    assert.match(drawn.url ?? '', /^\/assets\/1f680-[\w-]+\.svg$/);
    assert.ok(drawn.width > 0);
    assert.equal(drawn.text, '🚀');
  });

  it('sends an image through HTTP File Upload (XEP-0363) with a progress bar; the other side shows it inline', async () => {
    const png = checkerboardPng();
    // The PUT is held back a moment, so the progress bar is there to be seen.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    await alice.context().route('**/upload/**', async (route) => {
      if (route.request().method() === 'PUT') await held;
      await route.continue();
    });
    await alice.locator('input[type=file]').setInputFiles({ name: 'board.png', mimeType: 'image/png', buffer: png });
    await alice.getByRole('progressbar', { name: 'Uploading board.png' }).waitFor({ timeout: 10000 });
    await shot(alice, '03a-uploading');
    release();
    const image = bob.getByRole('img', { name: 'Image: board.png' });
    await image.waitFor({ timeout: 20000 });
    const src = await image.getAttribute('src');
    assert.match(src ?? '', new RegExp(`^https://localhost:${ts.httpsPort}/upload/[A-Za-z0-9_-]{32}/board\\.png$`));
    // Loaded, under the page's CSP: its natural size is the PNG's.
    await bob.waitForFunction((el) => (el as unknown as { complete: boolean; naturalWidth: number }).complete && (el as unknown as { naturalWidth: number }).naturalWidth === 64, await image.elementHandle(), { timeout: 10000 });
    // The link opens the full image.
    assert.equal(await image.locator('xpath=..').getAttribute('href'), src);
    await alice.getByRole('img', { name: 'Image: board.png' }).waitFor({ timeout: 10000 });
    assert.equal(await alice.getByRole('progressbar').count(), 0);
    await alice.context().unroute('**/upload/**');
    await shot(bob, '03-image');
  });

  it('takes files dropped on the chat or pasted into the composer; a file that is not an image is a link', async () => {
    const png = checkerboardPng().toString('base64');
    // A drop of a text file on the chat pane, as a browser delivers one (DataTransfer with Files).
    const dropped = await alice.evaluateHandle(() => {
      const dt = new (globalThis as unknown as { DataTransfer: new () => { items: { add(f: unknown): void } } }).DataTransfer();
      const FileCtor = (globalThis as unknown as { File: new (parts: string[], name: string, o: { type: string }) => unknown }).File;
      dt.items.add(new FileCtor(['meeting notes'], 'notes.txt', { type: 'text/plain' }));
      return dt;
    });
    await alice.dispatchEvent('section.chat', 'dragover', { dataTransfer: dropped });
    await alice.dispatchEvent('section.chat', 'drop', { dataTransfer: dropped });
    const link = bob.getByRole('link', { name: /notes\.txt/ });
    await link.waitFor({ timeout: 20000 });
    assert.match((await link.getAttribute('href')) ?? '', /\/upload\/[A-Za-z0-9_-]{32}\/notes\.txt$/);
    assert.equal(await bob.locator('.attachment.file img').count(), 0);
    // A pasted image (a screenshot from the clipboard).
    await alice.getByLabel('Message to bob@localhost').evaluate((box, b64) => {
      const g = globalThis as unknown as {
        DataTransfer: new () => { items: { add(f: unknown): void } };
        File: new (parts: unknown[], name: string, o: { type: string }) => unknown;
        ClipboardEvent: new (type: string, init: unknown) => unknown;
        Uint8Array: { from(a: number[]): unknown };
        atob(s: string): string;
      };
      const bytes = g.Uint8Array.from([...g.atob(b64)].map((c) => c.charCodeAt(0)));
      const dt = new g.DataTransfer();
      dt.items.add(new g.File([bytes], 'pasted.png', { type: 'image/png' }));
      (box as unknown as { dispatchEvent(e: unknown): void }).dispatchEvent(new g.ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, png);
    await bob.getByRole('img', { name: 'Image: pasted.png' }).waitFor({ timeout: 20000 });
  });

  it('in a room: replies, reactions, corrections and deletion; another occupant cannot correct or delete them', async () => {
    await alice.getByRole('button', { name: 'Join or create' }).click();
    await alice.getByLabel('Room name').fill('team');
    await alice.getByRole('button', { name: 'Join', exact: true }).click();
    await alice.getByText('1 person here').waitFor({ timeout: 10000 });
    await bob.getByRole('button', { name: 'Join or create' }).click();
    await bob.getByRole('button', { name: '# team' }).click({ timeout: 10000 });
    await bob.getByText('2 people here').waitFor({ timeout: 10000 });
    // Carol on a plain XMPP connection.
    await ts.createUser('carol');
    carol = await ts.client('carol');
    await carol.send(`<presence to='team@conference.localhost/carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await carol.waitFor((el) => el.name === 'presence' && el.attrs.from === 'team@conference.localhost/carol', 10000);

    await bob.getByLabel('Message to team').fill('Standup in 5');
    await bob.getByLabel('Message to team').press('Enter');
    await bubble(alice, 'Standup in 5').waitFor({ timeout: 10000 });
    const seen = await carol.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'Standup in 5', 10000);
    const originId = seen.getChild('origin-id', 'urn:xmpp:sid:0')!.attrs.id!;
    const stanzaId = seen.getChildren('stanza-id', 'urn:xmpp:sid:0').find((s) => s.attrs.by === 'team@conference.localhost')!.attrs.id!;

    // Carol names Bob's message in a correction and a retraction: nobody's view changes.
    await carol.send(`<message to='team@conference.localhost' type='groupchat' id='forge1'><body>Standup cancelled</body><replace xmlns='urn:xmpp:message-correct:0' id='${originId}'/></message>`);
    await carol.send(`<message to='team@conference.localhost' type='groupchat' id='forge2'><retract xmlns='urn:xmpp:message-retract:1' id='${stanzaId}'/><body>retracted</body></message>`);
    // A legitimate reaction from Carol: shown with her nick.
    await carol.send(`<message to='team@conference.localhost' type='groupchat' id='react1'><reactions xmlns='urn:xmpp:reactions:0' id='${stanzaId}'><reaction>👀</reaction></reactions><store xmlns='urn:xmpp:hints'/></message>`);
    await alice.getByRole('button', { name: /^👀 1: carol$/ }).waitFor({ timeout: 10000 });
    assert.equal(await alice.getByText('Standup cancelled').count(), 0);
    assert.equal(await bubble(alice, 'Standup in 5').locator('.text').textContent(), 'Standup in 5');
    assert.equal(await alice.getByText('This message was deleted').count(), 0);

    // Carol spams; Alice, who created the room and so moderates it, removes that for everyone (XEP-0425).
    await carol.send(`<message to='team@conference.localhost' type='groupchat' id='spam1'><body>Buy cheap watches</body></message>`);
    await bubble(alice, 'Buy cheap watches').waitFor({ timeout: 10000 });
    await actions(alice, 'Buy cheap watches');
    await alice.getByRole('button', { name: 'Remove', exact: true }).click();
    await bob.getByText('This message was deleted').waitFor({ timeout: 10000 });
    assert.equal(await bubble(bob, 'Buy cheap watches').count(), 0);

    // Alice reacts and answers by the room's stanza-id; Bob sees both.
    await actions(alice, 'Standup in 5');
    await alice.getByRole('button', { name: 'React with ❤️' }).click();
    await bob.getByRole('button', { name: /^❤️ 1: alice$/ }).waitFor({ timeout: 10000 });
    await actions(alice, 'Standup in 5');
    await alice.getByRole('button', { name: 'Reply', exact: true }).click();
    await alice.getByLabel('Message to team').fill('On my way');
    await alice.getByLabel('Message to team').press('Enter');
    await bubble(bob, 'On my way').locator('.reply-quote', { hasText: 'Standup in 5' }).waitFor({ timeout: 10000 });
    const reply = await carol.waitFor((el) => el.name === 'message' && (el.getChildText('body') ?? '').endsWith('On my way'), 10000);
    assert.equal(reply.getChild('reply', 'urn:xmpp:reply:0')?.attrs.id, stanzaId);
    assert.equal(reply.getChild('reply', 'urn:xmpp:reply:0')?.attrs.to, 'team@conference.localhost/bob');

    // Bob corrects his message from the menu; Alice sees the new text.
    await actions(bob, 'Standup in 5');
    await bob.getByRole('button', { name: 'Edit' }).click();
    await bob.getByLabel('Message to team').fill('Standup in 10');
    await bob.getByLabel('Message to team').press('Enter');
    await bubble(alice, 'Standup in 10').getByText('edited').waitFor({ timeout: 10000 });
    // Alice deletes her answer; Bob sees it gone.
    await actions(alice, 'On my way');
    await alice.getByRole('button', { name: 'Delete' }).click();
    await bob.getByText('This message was deleted').nth(1).waitFor({ timeout: 10000 });
    assert.equal(await bubble(bob, 'On my way').count(), 0);
    await shot(bob, '04-room');
  });

  it('after a reload, the archive (XEP-0313) brings back corrections, deletions, replies and reactions', async () => {
    await alice.reload();
    await alice.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 20000 });
    await alice.getByRole('button', { name: /^bob@localhost/ }).click();
    await bubble(alice, 'Lunch at 1pm?').getByText('edited').waitFor({ timeout: 10000 });
    assert.equal(await bubble(alice, 'Lunch at noon?').count(), 0);
    await alice.getByText('This message was deleted').waitFor();
    assert.equal(await bubble(alice, 'oops, wrong chat').count(), 0);
    assert.equal(await bubble(alice, 'Sounds good').locator('.reply-quote .reply-text').textContent(), 'Lunch at 1pm?');
    await alice.getByRole('button', { name: /^👍 1: bob@localhost$/ }).waitFor({ timeout: 10000 });
    await alice.getByRole('button', { name: /^🎉 1: bob@localhost$/ }).waitFor();
    await alice.getByRole('img', { name: 'Image: board.png' }).waitFor();
    await shot(alice, '05-after-reload');
    // The room's history on joining again (XEP-0045 §7.2.15) has the reactions (kept for their <store/> hint), the
    // correction, and Carol's forgery still refused.
    await alice.getByRole('button', { name: /^team\W/ }).click();
    await bubble(alice, 'Standup in 10').getByText('edited').waitFor({ timeout: 10000 });
    await alice.getByRole('button', { name: /^👀 1: carol$/ }).waitFor({ timeout: 10000 });
    await alice.getByRole('button', { name: /^❤️ 1: You$/, pressed: true }).waitFor();
    assert.equal(await alice.getByText('Standup cancelled').count(), 0);
    await shot(alice, '05b-room-after-reload');
    await alice.getByRole('button', { name: /^bob@localhost/ }).click();
  });

  it('passes an accessibility scan (axe-core) with the message menu and the emoji picker open', async () => {
    await actions(alice, 'Sounds good');
    await alice.getByRole('button', { name: 'Insert emoji' }).click();
    // Injected through DevTools, which the page's CSP does not govern (the app itself runs under it).
    await alice.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
    for (const scheme of ['light', 'dark'] as const) {
      await alice.emulateMedia({ colorScheme: scheme });
      const violations = (await alice.evaluate(async () => {
        return (await (globalThis as unknown as PageGlobals).axe.run()).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html) }));
      })) as Array<{ id: string; impact: string }>;
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(serious, [], `${scheme}: ${JSON.stringify(serious)}`);
      await shot(alice, `06-menu-${scheme}`);
    }
    await alice.keyboard.press('Escape');
  });

  it('works on a phone-sized screen', async () => {
    await bob.setViewportSize({ width: 390, height: 844 });
    await bob.getByRole('button', { name: 'Back to contacts' }).click();
    await bob.getByRole('button', { name: /^alice@localhost/ }).click();
    await bob.getByLabel('Message to alice@localhost').waitFor();
    await shot(bob, '07-phone');
    const width = await bob.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no horizontal scrolling (${width}px)`);
  });

  it('ran under the CSP with no violations, no page errors and no request elsewhere', () => {
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(elsewhere, []);
  });
});
