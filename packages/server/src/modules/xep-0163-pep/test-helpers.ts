// Shared by the PEP tests: a client that announces +notify interest through XEP-0115 caps.
import { parseXml } from '@parley/protocol';
import type { TestClient, TestServer } from '../../testing/harness';
import { answerCaps } from '../xep-0060-pubsub/test-helpers';
import { verificationString } from './caps';

/** Connects a client whose XEP-0115 caps announce +notify for the given nodes (XEP-0163 §4.2), and answers the server's query. */
export async function capsClient(ts: TestServer, user: string, resource: string, notify: string[]): Promise<TestClient> {
  const c = await ts.client(user, { resource, presence: false });
  const features = ['http://jabber.org/protocol/disco#info', ...notify.map((n) => `${n}+notify`)];
  answerCaps(c, features);
  const query = parseXml(`<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc' name='t'/>${features.map((f) => `<feature var='${f}'/>`).join('')}</query>`);
  await c.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='${verificationString(query)}'/></presence>`);
  return c;
}
