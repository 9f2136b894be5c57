import assert from 'node:assert/strict';
import { it } from 'node:test';
import { openStorage } from './index';

it('opens the configured backend', async () => {
  const memory = await openStorage({ backend: 'memory' });
  await memory.keyval('k').set('a', 1);
  assert.equal(await memory.keyval('k').get('a'), 1);
  await memory.close();

  const sqlite = await openStorage({ backend: 'sqlite', path: ':memory:' });
  await sqlite.keyval('k').set('a', 2);
  assert.equal(await sqlite.keyval('k').get('a'), 2);
  await sqlite.close();
});

it('requires a path for sqlite and a URL for postgres', async () => {
  await assert.rejects(openStorage({ backend: 'sqlite' }), /storage\.path/);
  await assert.rejects(openStorage({ backend: 'postgres' }), /storage\.url/);
});
