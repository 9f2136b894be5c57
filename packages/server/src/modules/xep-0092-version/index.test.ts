// XEP-0092 software version of the server, with and without the operating system.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { release, type } from 'node:os';
import { readStanzaError } from '@parley/protocol';
import { startTestServer, type TestServer } from '../../testing/harness';

const VERSION = (JSON.parse(readFileSync(new URL('../../../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('software version (XEP-0092)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('answers name and version, without the OS by default (§5)', async () => {
    const alice = await ts.client('alice');
    const res = await alice.iq(`<iq type='get' to='localhost'><query xmlns='jabber:iq:version'/></iq>`);
    assert.equal(res.attrs.type, 'result');
    assert.equal(
      res.getChild('query')!.toString(),
      `<query xmlns='jabber:iq:version'><name>Parley</name><version>${VERSION}</version></query>`,
    );
  });

  it('leaves bare JIDs unanswered (service-unavailable)', async () => {
    const alice = await ts.client('alice', { resource: 'b' });
    const res = await alice.iq(`<iq type='get' to='alice@localhost'><query xmlns='jabber:iq:version'/></iq>`);
    assert.equal(readStanzaError(res)?.condition, 'service-unavailable');
  });

  it('includes the OS when show_os is on', async () => {
    const other = await startTestServer({ modules: { options: { version: { show_os: true } } } });
    try {
      await other.createUser('alice');
      const alice = await other.client('alice');
      const res = await alice.iq(`<iq type='get' to='localhost'><query xmlns='jabber:iq:version'/></iq>`);
      assert.equal(res.getChild('query')!.getChildText('os'), `${type()} ${release()}`);
    } finally {
      await other.stop();
    }
  });

  it('rejects unknown options at start', async () => {
    await assert.rejects(startTestServer({ modules: { options: { version: { show_oss: true } } } }), /modules\.options\.version/);
  });
});
