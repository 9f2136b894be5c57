import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMechanisms } from './index';
import type { SaslContext } from './types';

const ctx = (secure: boolean, cb: boolean): SaslContext => ({
  secure,
  channelBinding: (type) => (cb && type === 'tls-exporter' ? Buffer.alloc(32) : undefined),
  getCredentials: async () => undefined,
});

test('mechanisms in preference order, filtered by the stream', () => {
  const mechs = createMechanisms({ allowInsecurePlain: false });
  const names = (c: SaslContext) => mechs.filter((m) => m.isAvailable(c)).map((m) => m.name);
  assert.deepEqual(names(ctx(true, true)), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  assert.deepEqual(names(ctx(true, false)), ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
  assert.deepEqual(names(ctx(false, false)), ['SCRAM-SHA-256', 'SCRAM-SHA-1']);
  const insecure = createMechanisms({ allowInsecurePlain: true });
  assert.ok(insecure.find((m) => m.name === 'PLAIN')!.isAvailable(ctx(false, false)));
});
