// The metrics of a real server after real traffic, parsed as Prometheus' text exposition format 0.0.4.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness';
import { createMetrics, isScrapeAllowed, type Metrics } from './index';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict parser of the text format: every line a HELP/TYPE comment or a sample; no line ignored. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleLine = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|\\+Inf|-Inf|NaN))(?: -?\\d+)?$`);
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        assert.match(comment[3]!, /^(counter|gauge|histogram|summary|untyped)$/, line);
        types.set(comment[2]!, comment[3]!);
      }
      continue;
    }
    const m = sampleLine.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      labelPair.lastIndex = 0;
      while (labelPair.lastIndex < m[2].length) {
        const p = labelPair.exec(m[2]);
        assert.ok(p, `bad labels in: ${line}`);
        labels[p[1]!] = p[2]!;
      }
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

describe('metrics', () => {
  let ts: TestServer;
  let metrics: Metrics;
  before(async () => {
    // A loopback WebSocket would count as secure (websocket.loopback_is_secure): these tests count real encryption.
    ts = await startTestServer({ websocket: { loopback_is_secure: false } });
    metrics = createMetrics(ts.running.server);
    await ts.createUser('alice');
    await ts.createUser('bob');
  });
  after(async () => {
    metrics.dispose();
    await ts.stop();
  });

  it('counts sessions, stanzas, routing time and failed logins, with process metrics', async () => {
    const alice = await ts.client('alice');
    const bob = await ts.client('bob');
    await ts.client('bob', { websocket: true, resource: 'web' });
    await alice.send(`<message to='${bob.jid}' type='chat'><body>hi</body></message>`);
    await bob.waitFor((el) => el.name === 'message');
    const raw = await ts.raw();
    raw.open();
    await raw.waitFor('</stream:features>');
    raw.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0wrong').toString('base64')}</auth>`);
    await raw.waitFor('<not-authorized/>');
    await metrics.timeStorage('roster.get', async () => {});

    assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(await metrics.render());
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    assert.equal(types.get('parley_sessions'), 'gauge');
    // xmpp.js takes the STARTTLS offered on the test server's plain port.
    assert.equal(value('parley_sessions', { transport: 'c2s_tls' })! + value('parley_sessions', { transport: 'c2s_plain' })!, 2);
    // The test server's HTTP listener is plain: ws://, counted apart from the TCP streams.
    assert.equal(value('parley_sessions', { transport: 'websocket_plain' }), 1);
    assert.equal(value('parley_sessions', { transport: 'websocket_tls' }), 0);
    assert.equal(value('parley_sessions', { transport: 'other_node' }), 0);
    assert.ok(value('parley_stanzas_in_total', { kind: 'message' })! >= 1);
    assert.ok(value('parley_stanzas_in_total', { kind: 'presence' })! >= 2);
    assert.ok(value('parley_stanzas_out_total', { kind: 'message' })! >= 1);
    assert.equal(types.get('parley_routing_duration_seconds'), 'histogram');
    assert.ok(value('parley_routing_duration_seconds_count', { kind: 'message' })! >= 1);
    assert.ok(value('parley_routing_duration_seconds_bucket', { kind: 'message', le: '+Inf' })! >= 1);
    assert.equal(value('parley_auth_failures_total', { mechanism: 'PLAIN' }), 1);
    assert.equal(value('parley_storage_duration_seconds_count', { operation: 'roster.get' }), 1);
    assert.equal(value('parley_s2s_connections'), 0);
    assert.ok(value('parley_process_resident_memory_bytes')! > 0);
    assert.ok(value('parley_nodejs_eventloop_lag_seconds') !== undefined);
    assert.equal(types.get('parley_nodejs_gc_duration_seconds'), 'histogram');
  });

  it('is served at /metrics on the HTTP port to loopback, in the text format', async () => {
    const res = await fetch(`http://127.0.0.1:${ts.httpPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const { samples } = parseExposition(await res.text());
    assert.ok(samples.some((s) => s.name === 'parley_sessions'));
  });
});

describe('metrics access', () => {
  it('lets loopback scrape, and other addresses only with the configured bearer token', () => {
    assert.equal(isScrapeAllowed('127.0.0.1', undefined, undefined), true);
    assert.equal(isScrapeAllowed('::ffff:127.0.0.1', undefined, undefined), true);
    assert.equal(isScrapeAllowed('::1', undefined, 'a-token-of-sixteen-chars'), true);
    assert.equal(isScrapeAllowed('192.0.2.7', undefined, undefined), false);
    assert.equal(isScrapeAllowed('192.0.2.7', 'Bearer guess', undefined), false);
    assert.equal(isScrapeAllowed('192.0.2.7', undefined, 'a-token-of-sixteen-chars'), false);
    assert.equal(isScrapeAllowed('192.0.2.7', 'Bearer a-token-of-sixteen-charX', 'a-token-of-sixteen-chars'), false);
    assert.equal(isScrapeAllowed('192.0.2.7', 'Bearer a-token-of-sixteen-chars', 'a-token-of-sixteen-chars'), true);
  });
});
