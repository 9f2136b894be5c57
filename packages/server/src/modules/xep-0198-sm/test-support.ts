// Raw-socket helpers shared by the XEP-0198 tests: authenticate, bind, and enable stream management.
import { RawClient, type TestServer } from '../../testing/harness';

export const SM = 'urn:xmpp:sm:3';
export const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

/** SASL PLAIN and the stream restart; resolves with the features of the authenticated stream. */
export async function authenticate(r: RawClient, user: string): Promise<string> {
  r.open();
  await r.waitFor('</stream:features>');
  r.data = '';
  r.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0secret`).toString('base64')}</auth>`);
  await r.waitFor('<success');
  r.data = '';
  r.open();
  const features = await r.waitFor('</stream:features>');
  r.data = '';
  return features;
}

export async function bind(r: RawClient, resource: string): Promise<void> {
  r.write(`<iq type='set' id='bind'><bind xmlns='${BIND}'><resource>${resource}</resource></bind></iq>`);
  await r.waitFor('</iq>');
  r.data = '';
}

/** Logs in, binds and enables stream management; resolves with the <enabled/> attributes. */
export async function enabled(ts: TestServer, user: string, resource: string, attrs = `resume='true'`): Promise<{ r: RawClient; id: string; max: string }> {
  const r = await ts.raw();
  await authenticate(r, user);
  await bind(r, resource);
  r.write(`<enable xmlns='${SM}' ${attrs}/>`);
  const data = await r.waitFor(/<enabled [^>]*\/>/);
  const tag = /<enabled [^>]*\/>/.exec(data)![0];
  r.data = '';
  return { r, id: /id='([^']+)'/.exec(tag)?.[1] ?? '', max: /max='([^']+)'/.exec(tag)?.[1] ?? '' };
}

export async function waitUntil(test: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
