import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hooks, Priority } from './hooks';

interface Events {
  ping: { seen: string[] };
}

test('handlers run by priority, equal priorities in registration order, until one returns true', async () => {
  const hooks = new Hooks<Events>();
  hooks.on('ping', ({ seen }) => void seen.push('deliver'), Priority.Deliver);
  hooks.on('ping', ({ seen }) => void seen.push('filter'), Priority.Filter);
  hooks.on('ping', ({ seen }) => void seen.push('deliver-2'), Priority.Deliver);
  hooks.on('ping', ({ seen }) => {
    seen.push('fallback');
    return true;
  }, Priority.Fallback);
  hooks.on('ping', ({ seen }) => void seen.push('after-fallback'), Priority.Fallback - 1);
  const event = { seen: [] as string[] };
  assert.equal(await hooks.fire('ping', event), true);
  assert.deepEqual(event.seen, ['filter', 'deliver', 'deliver-2', 'fallback']);
  const emitted = { seen: [] as string[] };
  assert.equal(hooks.emit('ping', emitted), true);
  assert.deepEqual(emitted.seen, event.seen);
});

test('a handler disposing another or registering one during a fire does not change that fire', async () => {
  const hooks = new Hooks<Events>();
  const later = hooks.on('ping', ({ seen }) => void seen.push('later'), Priority.Deliver);
  hooks.on('ping', ({ seen }) => {
    seen.push('first');
    later.dispose();
    hooks.on('ping', ({ seen: s }) => void s.push('added'), Priority.Filter);
  }, Priority.Filter);
  const first = { seen: [] as string[] };
  await hooks.fire('ping', first);
  assert.deepEqual(first.seen, ['first', 'later']);
  // The next fire sees both changes: 'added' has the priority of 'first' and was registered after it.
  const second = { seen: [] as string[] };
  hooks.emit('ping', second);
  assert.deepEqual(second.seen, ['first', 'added']);
});

test('disposing twice removes one registration only once; has() follows', () => {
  const hooks = new Hooks<Events>();
  const handler = ({ seen }: Events['ping']) => void seen.push('x');
  const a = hooks.on('ping', handler);
  const b = hooks.on('ping', handler);
  a.dispose();
  a.dispose();
  const event = { seen: [] as string[] };
  hooks.emit('ping', event);
  assert.deepEqual(event.seen, ['x']);
  assert.equal(hooks.has('ping'), true);
  b.dispose();
  assert.equal(hooks.has('ping'), false);
});
