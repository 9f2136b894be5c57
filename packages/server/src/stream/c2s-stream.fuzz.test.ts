// Fuzz target for client streams, end to end over TCP against a running server: random, XMPP-shaped and mutated XML,
// cut at random byte boundaries, before authentication and after binding a resource. Properties: the server never
// crashes (no uncaught exception, no unhandled rejection) and never fails inside (no internal-server-error, which
// means a handler threw); what it sends is well-formed, with at most one stream error, last, naming an RFC 6120
// condition; every input ends — the server closes the stream or, once the client has closed, the connection; and
// memory stays bounded (connections and sessions go away, nothing waits in send buffers).
// Runs for a share of PARLEY_FUZZ_SECONDS (default 60 for the whole fuzz suite; 0 skips); `npm run fuzz` runs longer.
// A failure prints a seed and path: PARLEY_FUZZ_SEED=<seed> reproduces it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { NS, StreamParser, type XmlElement } from '@parley/protocol';
import { cuts, fuzzBudgetMs, splitAt, stanza, streamContent } from '@parley/protocol/testing';
import { startTestServer, type TestServer } from '../testing/harness';

const TOTAL_SECONDS = Number(process.env.PARLEY_FUZZ_SECONDS ?? 60);
const SEED = process.env.PARLEY_FUZZ_SEED === undefined ? undefined : Number(process.env.PARLEY_FUZZ_SEED);
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const STREAM_CONDITIONS = new Set([
  'bad-format', 'bad-namespace-prefix', 'conflict', 'connection-timeout', 'host-gone', 'host-unknown', 'improper-addressing',
  'invalid-from', 'invalid-namespace', 'invalid-xml', 'not-authorized', 'not-well-formed', 'policy-violation',
  'remote-connection-failed', 'reset', 'resource-constraint', 'restricted-xml', 'see-other-host', 'system-shutdown',
  'undefined-condition', 'unsupported-encoding', 'unsupported-feature', 'unsupported-stanza-type', 'unsupported-version',
]);

function settings(share: number): fc.Parameters<unknown> {
  return { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: fuzzBudgetMs(TOTAL_SECONDS, share), markInterruptAsFailure: false, seed: SEED };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Peer {
  out = '';
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (this.out += d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static open(port: number): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(new Peer(s)));
      s.once('error', reject);
    });
  }

  async until(test: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline) return false;
      await sleep(5);
    }
    return true;
  }

  async expect(text: string): Promise<void> {
    if (!(await this.until(() => this.out.includes(text) || this.closed, 5000)) || !this.out.includes(text)) {
      throw new Error(`expected ${text}, got ${this.out}`);
    }
  }
}

/** Sends the chunks, then closes the stream; resolves with what the server sent from `from` on, once it is done. */
async function exchange(peer: Peer, chunks: Uint8Array[]): Promise<{ out: string; closedByServer: boolean }> {
  const from = peer.out.length;
  for (const chunk of chunks) {
    if (peer.closed) break;
    peer.socket.write(chunk);
    await sleep(0); // a read per chunk, as far as loopback allows
  }
  if (!peer.closed) peer.socket.write('</stream:stream>');
  // The server closes the stream once it has processed what came before our close; input that swallowed the close
  // tag (an open CDATA section, say) is ended by closing the connection, as a client that goes away does.
  let closedByServer = await peer.until(() => peer.closed || peer.out.endsWith('</stream:stream>'), 5000);
  if (!closedByServer) {
    peer.socket.end();
    assert.ok(await peer.until(() => peer.closed, 5000), `the server kept the stream open after the client left; it sent: ${peer.out.slice(from)}`);
  }
  closedByServer ||= false;
  peer.socket.destroy();
  return { out: peer.out.slice(from), closedByServer };
}

/** Checks what the server sent (inside a stream whose header came before): well-formed, one stream error at most, last. */
function checkOutput(out: string): void {
  const elements: XmlElement[] = [];
  let failure: string | undefined;
  const parser = new StreamParser(
    {
      onOpen: () => {},
      onElement: (el) => elements.push(el),
      onClose: () => {},
      onError: (condition, text) => (failure ??= `${condition}: ${text}`),
    },
    { maxStanzaSize: 1 << 22 },
  );
  // After a restart the server sends a new header: each header starts a fresh parse.
  const parts = out.split(/<\?xml version='1.0'\?>(?=<stream:stream)/).filter((p) => p.length > 0);
  for (const part of parts) {
    parser.write(part.startsWith('<stream:stream') ? part : `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>${part}`);
  }
  assert.equal(failure, undefined, `the server sent malformed XML: ${out}`);
  assert.doesNotMatch(out, /internal-server-error/, `a handler failed inside the server: ${out}`);
  // Canonical form (the parser resolves prefixes): <stream:error> is <error xmlns='http://etherx.jabber.org/streams'>.
  const errors = elements.filter((el) => el.name === 'stream:error' || (el.name === 'error' && el.attrs.xmlns === NS.STREAM));
  assert.ok(errors.length <= 1, `more than one stream error: ${out}`);
  if (errors.length === 1) {
    assert.equal(elements.at(-1), errors[0], `something was sent after the stream error: ${out}`);
    const condition = errors[0]!.elements().find((c) => c.name !== 'text')?.name ?? '';
    assert.ok(STREAM_CONDITIONS.has(condition), `unknown stream error condition '${condition}'`);
  }
}

describe('c2s stream fuzz', { skip: TOTAL_SECONDS <= 0 ? 'PARLEY_FUZZ_SECONDS=0' : undefined }, () => {
  let ts: TestServer;
  const problems: string[] = [];
  const onRejection = (err: unknown) => problems.push(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`);
  const onException = (err: Error) => problems.push(`uncaught exception: ${err.stack ?? err.message}`);

  before(async () => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    ts = await startTestServer({
      // Small limits, so the fuzzer reaches them.
      c2s: { max_stanza_size: 10000, max_send_buffer: 65536 },
      registration: { mode: 'open', per_ip_per_hour: 1000 },
      modules: { options: { sm: { resume_timeout_s: 1 } } },
    } as never);
    await ts.createUser('fuzz');
    await ts.createUser('peer');
  });
  after(async () => {
    await ts.stop();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  });

  const noProblems = () => assert.deepEqual(problems, [], problems.join('\n'));

  it('before authentication: any input ends in a stream error or a closed stream, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(streamContent(fc.oneof(stanza, fc.constantFrom(
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGZ1enoAd3Jvbmc=</auth>",
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>biwsbj1mdXp6LHI9YWJj</auth>",
        "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>AGZ1enoAd3Jvbmc=</initial-response></authenticate>",
        "<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>",
        "<iq type='set' id='r2'><query xmlns='jabber:iq:register'><username>fz</username><password>x</password></query></iq>",
      ))), cuts, async (content, positions) => {
        const peer = await Peer.open(ts.port);
        const input = new Uint8Array([...new TextEncoder().encode(HEADER), ...content]);
        const { out } = await exchange(peer, splitAt(input, positions));
        checkOutput(out);
        noProblems();
      }),
      settings(0.3),
    );
    noProblems();
  });

  it('after binding a resource: any input ends in a stream error or a closed stream, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(streamContent(), cuts, async (content, positions) => {
        const peer = await Peer.open(ts.port);
        peer.socket.write(HEADER);
        await peer.expect('</stream:features>');
        peer.socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0fuzz\0secret').toString('base64')}</auth>`);
        await peer.expect('<success');
        peer.out = '';
        peer.socket.write(HEADER);
        await peer.expect('</stream:features>');
        peer.socket.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>fuzz</resource></bind></iq>`);
        await peer.expect(`id='bind'`);
        peer.socket.write(`<presence/>`);
        await exchange(peer, splitAt(content, positions));
        checkOutput(peer.out);
        noProblems();
      }),
      settings(0.45),
    );
    noProblems();
  });

  it('leaves nothing behind: connections, sessions and send buffers go away', async () => {
    const gone = async (test: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!test() && Date.now() < deadline) await sleep(50);
      return test();
    };
    assert.ok(await gone(() => ts.running.c2sConnections().length === 0), `connections left: ${JSON.stringify(ts.running.c2sConnections())}`);
    // Hibernating sessions (XEP-0198 resumption, 1 s here) end too.
    assert.ok(await gone(() => ts.running.server.sessions.localSize === 0), `sessions left: ${ts.running.server.sessions.localSize}`);
    noProblems();
  });
});
