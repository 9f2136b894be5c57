// The one contract every backend passes (STYLE.md habit 8): memory.test.ts and sqlite.test.ts call
// runStorageContract with their own opener, and postgres.test.ts does the same against a real PostgreSQL.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { StorageError } from './errors';
import { AccountExistsError, type ArchiveItem, type ArchiveStore, type Credentials, type Storage } from './types';

function credentials(seed: string): Credentials {
  const keys = (hash: string) => ({ salt: `salt-${seed}-${hash}`, iterations: 4096, storedKey: `stored-${seed}`, serverKey: `server-${seed}` });
  return { 'SCRAM-SHA-1': keys('1'), 'SCRAM-SHA-256': keys('256') };
}

function hasCode(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof Error, 'an Error');
    assert.equal((err as { code?: unknown }).code, code);
    assert.ok(err instanceof StorageError);
    return true;
  };
}

const ids = (items: ArchiveItem[]): string[] => items.map((i) => i.id);

/** Appends m1..mN with when = 1000 * n, alternating `with` between romeo and mercutio (odd → romeo). */
async function fill(archive: ArchiveStore, owner: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const peer = i % 2 === 1 ? 'romeo@example.com' : 'mercutio@example.com';
    await archive.append(owner, { id: `m${i}`, when: 1000 * i, with: peer, payload: `<message>${i}</message>` });
  }
}

export function runStorageContract(name: string, open: () => Promise<Storage> | Storage, options: { skip?: string } = {}): void {
  describe(`storage contract: ${name}`, { skip: options.skip }, () => {
    let storage: Storage;
    beforeEach(async () => {
      storage = await open();
    });
    afterEach(async () => {
      await storage.close();
    });

    describe('keyval', () => {
      it('returns undefined for a missing owner', async () => {
        assert.equal(await storage.keyval('k').get('nobody@example.com'), undefined);
      });

      it('round-trips JSON values and overwrites', async () => {
        const kv = storage.keyval('k');
        const values: unknown[] = [{ a: 1, b: [true, null, 'x'] }, 0, false, '', 'text', [1, 2], null, { nested: { deep: ['ü', '😀'] } }];
        for (const v of values) {
          await kv.set('juliet@example.com', v);
          assert.deepEqual(await kv.get('juliet@example.com'), v);
        }
      });

      it('deletes when set to undefined, also when absent', async () => {
        const kv = storage.keyval<number>('k');
        await kv.set('juliet@example.com', 7);
        await kv.set('juliet@example.com', undefined);
        assert.equal(await kv.get('juliet@example.com'), undefined);
        await kv.set('juliet@example.com', undefined);
        assert.equal(await kv.get('juliet@example.com'), undefined);
      });

      it('keeps store names and owners apart', async () => {
        await storage.keyval('a').set('juliet@example.com', 'a-juliet');
        await storage.keyval('b').set('juliet@example.com', 'b-juliet');
        await storage.keyval('a').set('romeo@example.com', 'a-romeo');
        assert.equal(await storage.keyval('a').get('juliet@example.com'), 'a-juliet');
        assert.equal(await storage.keyval('b').get('juliet@example.com'), 'b-juliet');
        assert.equal(await storage.keyval('a').get('romeo@example.com'), 'a-romeo');
        assert.equal(await storage.keyval('b').get('romeo@example.com'), undefined);
        await storage.keyval('a').set('juliet@example.com', undefined);
        assert.equal(await storage.keyval('b').get('juliet@example.com'), 'b-juliet');
      });

      it('does not alias values in or out', async () => {
        const kv = storage.keyval<{ list: number[] }>('k');
        const value = { list: [1] };
        await kv.set('juliet@example.com', value);
        value.list.push(2);
        const got = (await kv.get('juliet@example.com'))!;
        assert.deepEqual(got, { list: [1] });
        got.list.push(3);
        assert.deepEqual(await kv.get('juliet@example.com'), { list: [1] });
      });

      it('rejects values that are not JSON', async () => {
        await assert.rejects(storage.keyval('k').set('juliet@example.com', (() => 1) as unknown));
        await assert.rejects(storage.keyval('k').set('juliet@example.com', 1n as unknown));
        assert.equal(await storage.keyval('k').get('juliet@example.com'), undefined);
      });
    });

    describe('map', () => {
      it('gets, sets, overwrites and deletes single keys', async () => {
        const map = storage.map<{ name: string }>('roster');
        assert.equal(await map.get('juliet@example.com', 'romeo@example.com'), undefined);
        await map.set('juliet@example.com', 'romeo@example.com', { name: 'Romeo' });
        await map.set('juliet@example.com', 'nurse@example.com', { name: 'Nurse' });
        assert.deepEqual(await map.get('juliet@example.com', 'romeo@example.com'), { name: 'Romeo' });
        await map.set('juliet@example.com', 'romeo@example.com', { name: 'R.' });
        assert.deepEqual(await map.get('juliet@example.com', 'romeo@example.com'), { name: 'R.' });
        await map.set('juliet@example.com', 'romeo@example.com', undefined);
        assert.equal(await map.get('juliet@example.com', 'romeo@example.com'), undefined);
        assert.deepEqual(await map.get('juliet@example.com', 'nurse@example.com'), { name: 'Nurse' });
      });

      it('getAll returns only that owner\'s keys, empty for an unknown owner', async () => {
        const map = storage.map<number>('m');
        await map.set('juliet@example.com', 'b', 2);
        await map.set('juliet@example.com', 'a', 1);
        await map.set('romeo@example.com', 'c', 3);
        await storage.map('other').set('juliet@example.com', 'z', 26);
        const all = await map.getAll('juliet@example.com');
        assert.ok(all instanceof Map);
        assert.deepEqual(new Map([...all].sort()), new Map([['a', 1], ['b', 2]]));
        assert.equal((await map.getAll('nobody@example.com')).size, 0);
      });

      it('deleteAll removes one owner in one store only', async () => {
        const map = storage.map<number>('m');
        await map.set('juliet@example.com', 'a', 1);
        await map.set('juliet@example.com', 'b', 2);
        await map.set('romeo@example.com', 'a', 1);
        await storage.map('other').set('juliet@example.com', 'a', 1);
        await map.deleteAll('juliet@example.com');
        assert.equal((await map.getAll('juliet@example.com')).size, 0);
        assert.equal(await map.get('romeo@example.com', 'a'), 1);
        assert.equal(await storage.map('other').get('juliet@example.com', 'a'), 1);
        await map.deleteAll('nobody@example.com');
      });

      it('owners lists owners with at least one key, per store', async () => {
        const map = storage.map<number>('rooms');
        assert.deepEqual(await map.owners(), []);
        await map.set('garden@muc.example.com', 'config', 1);
        await map.set('garden@muc.example.com', 'subject', 2);
        await map.set('balcony@muc.example.com', 'config', 1);
        await storage.map('other').set('crypt@muc.example.com', 'config', 1);
        assert.deepEqual((await map.owners()).sort(), ['balcony@muc.example.com', 'garden@muc.example.com']);
        await map.set('balcony@muc.example.com', 'config', undefined);
        assert.deepEqual(await map.owners(), ['garden@muc.example.com']);
        await map.deleteAll('garden@muc.example.com');
        assert.deepEqual(await map.owners(), []);
        assert.deepEqual(await storage.map('other').owners(), ['crypt@muc.example.com']);
      });

      it('keeps keyval and map stores of the same name apart', async () => {
        await storage.keyval('same').set('juliet@example.com', 'kv');
        await storage.map('same').set('juliet@example.com', 'k', 'map');
        assert.equal(await storage.keyval('same').get('juliet@example.com'), 'kv');
        assert.equal(await storage.map('same').get('juliet@example.com', 'k'), 'map');
      });

      it('does not alias values in or out', async () => {
        const map = storage.map<{ groups: string[] }>('roster');
        const item = { groups: ['Friends'] };
        await map.set('juliet@example.com', 'romeo@example.com', item);
        item.groups.push('Lovers');
        const one = (await map.get('juliet@example.com', 'romeo@example.com'))!;
        one.groups.push('x');
        const all = await map.getAll('juliet@example.com');
        all.get('romeo@example.com')!.groups.push('y');
        all.set('tybalt@example.com', { groups: [] });
        assert.deepEqual(await map.getAll('juliet@example.com'), new Map([['romeo@example.com', { groups: ['Friends'] }]]));
      });
    });

    describe('archive', () => {
      const owner = 'juliet@example.com';

      it('assigns unique URL-safe ids when absent and keeps given ones', async () => {
        const archive = storage.archive('mam');
        const seen = new Set<string>();
        for (let i = 0; i < 200; i++) {
          const id = await archive.append(owner, { when: i, payload: 'x' });
          assert.match(id, /^[A-Za-z0-9_-]{8,}$/);
          seen.add(id);
        }
        assert.equal(seen.size, 200);
        assert.equal(await archive.append(owner, { id: 'given-1', when: 1, payload: 'y' }), 'given-1');
        assert.deepEqual((await archive.query(owner, { after: 'given-1' })).items, []);
      });

      it('refuses a given id that already exists in the store', async () => {
        const archive = storage.archive('mam');
        await archive.append(owner, { id: 'dup', when: 1, payload: 'a' });
        await assert.rejects(archive.append(owner, { id: 'dup', when: 2, payload: 'b' }), hasCode('conflict'));
        await assert.rejects(archive.append('romeo@example.com', { id: 'dup', when: 2, payload: 'b' }), hasCode('conflict'));
        assert.deepEqual((await archive.query(owner)).items, [{ id: 'dup', when: 1, payload: 'a' }]);
        // Ids are per store: another store may reuse one.
        assert.equal(await storage.archive('muc').append(owner, { id: 'dup', when: 3, payload: 'c' }), 'dup');
      });

      it('returns items in append order with all their fields, omitting an absent `with`', async () => {
        const archive = storage.archive('mam');
        await archive.append(owner, { id: 'late', when: 5000, with: 'romeo@example.com', payload: '<a/>' });
        await archive.append(owner, { id: 'early', when: 1000, payload: '<b/>' });
        const result = await archive.query(owner);
        assert.deepEqual(result, {
          items: [
            { id: 'late', when: 5000, with: 'romeo@example.com', payload: '<a/>' },
            { id: 'early', when: 1000, payload: '<b/>' },
          ],
          complete: true,
        });
        assert.ok(!('with' in result.items[1]!));
        assert.deepEqual(await archive.query('nobody@example.com'), { items: [], complete: true });
      });

      it('filters by with, start and end (inclusive), alone and combined', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 6);
        assert.deepEqual(ids((await archive.query(owner, { with: 'romeo@example.com' })).items), ['m1', 'm3', 'm5']);
        assert.deepEqual(ids((await archive.query(owner, { start: 2000 })).items), ['m2', 'm3', 'm4', 'm5', 'm6']);
        assert.deepEqual(ids((await archive.query(owner, { end: 3000 })).items), ['m1', 'm2', 'm3']);
        assert.deepEqual(ids((await archive.query(owner, { start: 2000, end: 4000 })).items), ['m2', 'm3', 'm4']);
        assert.deepEqual(ids((await archive.query(owner, { with: 'mercutio@example.com', start: 3000, end: 6000 })).items), ['m4', 'm6']);
        assert.deepEqual((await archive.query(owner, { with: 'tybalt@example.com' })).items, []);
        assert.deepEqual((await archive.query(owner, { start: 7000 })).items, []);
      });

      it('limits pages and reports complete', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 5);
        assert.deepEqual(await archive.query(owner, { limit: 2 }).then((r) => [ids(r.items), r.complete]), [['m1', 'm2'], false]);
        assert.deepEqual(await archive.query(owner, { limit: 5 }).then((r) => [ids(r.items), r.complete]), [['m1', 'm2', 'm3', 'm4', 'm5'], true]);
        assert.deepEqual(await archive.query(owner, { limit: 9 }).then((r) => [ids(r.items), r.complete]), [['m1', 'm2', 'm3', 'm4', 'm5'], true]);
        assert.deepEqual(await archive.query(owner, { limit: 0 }), { items: [], complete: false });
        assert.deepEqual(await archive.query('nobody@example.com', { limit: 0 }), { items: [], complete: true });
        assert.deepEqual(
          await archive.query(owner, { with: 'romeo@example.com', limit: 3 }).then((r) => [ids(r.items), r.complete]),
          [['m1', 'm3', 'm5'], true],
        );
      });

      it('returns newest first when reversed ("last N")', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 5);
        assert.deepEqual(await archive.query(owner, { reverse: true }).then((r) => [ids(r.items), r.complete]), [['m5', 'm4', 'm3', 'm2', 'm1'], true]);
        assert.deepEqual(await archive.query(owner, { reverse: true, limit: 2 }).then((r) => [ids(r.items), r.complete]), [['m5', 'm4'], false]);
        assert.deepEqual(
          await archive.query(owner, { reverse: true, with: 'romeo@example.com', end: 4000 }).then((r) => [ids(r.items), r.complete]),
          [['m3', 'm1'], true],
        );
      });

      it('pages forward with after until complete', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 7);
        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const r = await archive.query(owner, { after, limit: 3 });
          pages.push(ids(r.items));
          if (r.complete) break;
          after = r.items.at(-1)!.id;
        }
        assert.deepEqual(pages, [['m1', 'm2', 'm3'], ['m4', 'm5', 'm6'], ['m7']]);
        // After the last item: nothing left, and that is complete rather than an error.
        assert.deepEqual(await archive.query(owner, { after: 'm7', limit: 3 }), { items: [], complete: true });
      });

      it('pages backward with before and reverse until complete', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 7);
        const pages: string[][] = [];
        let before: string | undefined;
        for (;;) {
          const r = await archive.query(owner, { before, limit: 3, reverse: true });
          pages.push(ids(r.items));
          if (r.complete) break;
          before = r.items.at(-1)!.id;
        }
        assert.deepEqual(pages, [['m7', 'm6', 'm5'], ['m4', 'm3', 'm2'], ['m1']]);
      });

      it('pages an exact multiple of the limit without a phantom page', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 4);
        const first = await archive.query(owner, { limit: 2 });
        assert.equal(first.complete, false);
        const second = await archive.query(owner, { after: first.items.at(-1)!.id, limit: 2 });
        assert.deepEqual([ids(second.items), second.complete], [['m3', 'm4'], true]);
      });

      it('applies before without reverse as a filter, oldest first', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 5);
        assert.deepEqual(await archive.query(owner, { before: 'm4' }).then((r) => [ids(r.items), r.complete]), [['m1', 'm2', 'm3'], true]);
        assert.deepEqual(await archive.query(owner, { before: 'm4', limit: 2 }).then((r) => [ids(r.items), r.complete]), [['m1', 'm2'], false]);
      });

      it('combines after, before and filters', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 8);
        assert.deepEqual(ids((await archive.query(owner, { after: 'm2', before: 'm7' })).items), ['m3', 'm4', 'm5', 'm6']);
        assert.deepEqual(ids((await archive.query(owner, { after: 'm2', before: 'm7', reverse: true, limit: 2 })).items), ['m6', 'm5']);
        // The paging anchor need not match the filter itself: its position is what counts.
        assert.deepEqual(ids((await archive.query(owner, { after: 'm2', with: 'romeo@example.com' })).items), ['m3', 'm5', 'm7']);
        assert.deepEqual(ids((await archive.query(owner, { after: 'm2', start: 5000 })).items), ['m5', 'm6', 'm7', 'm8']);
      });

      it('orders by append order even when `when` goes backwards', async () => {
        const archive = storage.archive('mam');
        await archive.append(owner, { id: 'a', when: 3000, payload: '' });
        await archive.append(owner, { id: 'b', when: 1000, payload: '' });
        await archive.append(owner, { id: 'c', when: 2000, payload: '' });
        assert.deepEqual(ids((await archive.query(owner, { after: 'a' })).items), ['b', 'c']);
        assert.deepEqual(ids((await archive.query(owner, { reverse: true, limit: 1 })).items), ['c']);
      });

      it('rejects unknown paging ids with item-not-found, including ids of other owners and stores', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 2);
        await storage.archive('mam').append('romeo@example.com', { id: 'romeos', when: 1, payload: '' });
        await storage.archive('muc').append(owner, { id: 'other-store', when: 1, payload: '' });
        for (const id of ['nope', 'romeos', 'other-store']) {
          await assert.rejects(archive.query(owner, { after: id }), hasCode('item-not-found'));
          await assert.rejects(archive.query(owner, { before: id, reverse: true }), hasCode('item-not-found'));
        }
      });

      it('counts items, optionally filtered', async () => {
        const archive = storage.archive('mam');
        assert.equal(await archive.count(owner), 0);
        await fill(archive, owner, 5);
        await archive.append('romeo@example.com', { when: 1000, with: 'romeo@example.com', payload: '' });
        assert.equal(await archive.count(owner), 5);
        assert.equal(await archive.count(owner, { with: 'romeo@example.com' }), 3);
        assert.equal(await archive.count(owner, { start: 2000, end: 4000 }), 3);
        assert.equal(await archive.count(owner, { with: 'mercutio@example.com', start: 3000 }), 1);
        assert.equal(await storage.archive('muc').count(owner), 0);
      });

      it('reports an owner\'s item count and payload bytes (UTF-8)', async () => {
        const archive = storage.archive('offline');
        assert.deepEqual(await archive.usage(owner), { items: 0, bytes: 0 });
        await archive.append(owner, { when: 1, payload: '<m>hi</m>' });
        await archive.append(owner, { when: 2, payload: '<m>é€😀</m>' }); // 7 ASCII bytes + 2 + 3 + 4
        await archive.append('romeo@example.com', { when: 3, payload: '<m>other owner</m>' });
        await storage.archive('mam').append(owner, { when: 4, payload: '<m>other store</m>' });
        assert.deepEqual(await archive.usage(owner), { items: 2, bytes: 9 + 16 });
        await archive.delete(owner, { before: 2 });
        assert.deepEqual(await archive.usage(owner), { items: 1, bytes: 16 });
      });

      it('replaces one item\'s payload in place, only the owner\'s', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 3);
        await archive.append('romeo@example.com', { id: 'r1', when: 1, payload: 'romeo' });
        assert.equal(await archive.replace(owner, 'm2', '<tombstone/>'), true);
        assert.equal(await archive.replace(owner, 'r1', 'stolen'), false);
        assert.equal(await archive.replace(owner, 'missing', 'x'), false);
        assert.equal(await storage.archive('muc').replace(owner, 'm2', 'x'), false);
        const items = (await archive.query(owner)).items;
        assert.deepEqual(ids(items), ['m1', 'm2', 'm3']);
        assert.deepEqual(items[1], { id: 'm2', when: 2000, with: 'mercutio@example.com', payload: '<tombstone/>' });
        assert.equal((await archive.query('romeo@example.com')).items[0]!.payload, 'romeo');
      });

      it('deletes by ids, only the owner\'s, and an empty id list deletes nothing', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 4);
        await archive.append('romeo@example.com', { id: 'r1', when: 1, payload: '' });
        assert.equal(await archive.delete(owner, { ids: ['m2', 'm4', 'r1', 'missing'] }), 2);
        assert.deepEqual(ids((await archive.query(owner)).items), ['m1', 'm3']);
        assert.equal(await archive.count('romeo@example.com'), 1);
        assert.equal(await archive.delete(owner, { ids: [] }), 0);
        assert.equal(await archive.count(owner), 2);
        await assert.rejects(archive.query(owner, { after: 'm2' }), hasCode('item-not-found'));
      });

      it('deletes items strictly older than a time, and combined with ids', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 5);
        assert.equal(await archive.delete(owner, { before: 3000 }), 2);
        assert.deepEqual(ids((await archive.query(owner)).items), ['m3', 'm4', 'm5']);
        assert.equal(await archive.delete(owner, { ids: ['m3', 'm5'], before: 5000 }), 1);
        assert.deepEqual(ids((await archive.query(owner)).items), ['m4', 'm5']);
      });

      it('deletes all of one owner\'s items in one store', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 3);
        await archive.append('romeo@example.com', { when: 1, payload: '' });
        await storage.archive('muc').append(owner, { when: 1, payload: '' });
        assert.equal(await archive.delete(owner), 3);
        assert.deepEqual(await archive.query(owner), { items: [], complete: true });
        assert.equal(await archive.count('romeo@example.com'), 1);
        assert.equal(await storage.archive('muc').count(owner), 1);
        assert.equal(await archive.delete('nobody@example.com'), 0);
      });

      it('keeps appending in order after deletes, and frees deleted ids', async () => {
        const archive = storage.archive('mam');
        await fill(archive, owner, 3);
        await archive.delete(owner, { ids: ['m3'] });
        await archive.append(owner, { id: 'm3', when: 1, payload: 'again' });
        await archive.append(owner, { id: 'm4', when: 1, payload: '' });
        assert.deepEqual(ids((await archive.query(owner)).items), ['m1', 'm2', 'm3', 'm4']);
        assert.deepEqual(ids((await archive.query(owner, { after: 'm2' })).items), ['m3', 'm4']);
      });

      it('keeps owners and store names apart', async () => {
        await storage.archive('mam').append(owner, { id: 'j', when: 1, payload: 'juliet' });
        await storage.archive('mam').append('romeo@example.com', { id: 'r', when: 1, payload: 'romeo' });
        await storage.archive('muc').append(owner, { id: 'm', when: 1, payload: 'room' });
        assert.deepEqual(ids((await storage.archive('mam').query(owner)).items), ['j']);
        assert.deepEqual(ids((await storage.archive('mam').query('romeo@example.com')).items), ['r']);
        assert.deepEqual(ids((await storage.archive('muc').query(owner)).items), ['m']);
      });

      it('does not alias returned items', async () => {
        const archive = storage.archive('mam');
        const item = { id: 'a', when: 1, with: 'romeo@example.com', payload: 'p' };
        await archive.append(owner, item);
        item.payload = 'changed';
        const got = (await archive.query(owner)).items[0]!;
        got.payload = 'mutated';
        assert.equal((await archive.query(owner)).items[0]!.payload, 'p');
      });

      it('applies writes nobody awaited in the order issued, visible to the next read', async () => {
        // The message archive does not wait for its appends (xep-0313-mam/archiving.ts); reads must still see them.
        const archive = storage.archive('mam');
        const writes: Promise<unknown>[] = [];
        for (let i = 1; i <= 20; i++) writes.push(archive.append(owner, { id: `w${i}`, when: i, payload: `p${i}` }));
        writes.push(archive.delete(owner, { ids: ['w1', 'w2'] }), archive.replace(owner, 'w3', 'tombstone'));
        writes.push(archive.append(owner, { id: 'w1', when: 21, payload: 'again' }));
        const page = await archive.query(owner, { reverse: true, limit: 2 });
        assert.deepEqual(ids(page.items), ['w1', 'w20']);
        assert.equal(await archive.count(owner), 19);
        assert.equal((await archive.query(owner, { limit: 1 })).items[0]!.payload, 'tombstone');
        await Promise.all(writes);
      });

      it('settled() resolves only after every write issued before it has', async () => {
        const archive = storage.archive('mam');
        let done = 0;
        for (let i = 0; i < 50; i++) void archive.append(owner, { when: i, payload: '' }).then(() => done++);
        void storage.keyval('k').set(owner, 1).then(() => done++);
        await storage.settled();
        // Durable by now; the writes' own promises may need a few more microtasks to run their callbacks.
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(done, 51);
      });

      it('rejects malformed items and limits', async () => {
        const archive = storage.archive('mam');
        await assert.rejects(archive.append(owner, { when: Number.NaN, payload: '' }), TypeError);
        await assert.rejects(archive.append(owner, { id: '', when: 1, payload: '' }), TypeError);
        await assert.rejects(archive.append(owner, { when: 1, payload: 5 as unknown as string }), TypeError);
        await assert.rejects(archive.query(owner, { limit: -1 }), RangeError);
        await assert.rejects(archive.query(owner, { limit: 1.5 }), RangeError);
        assert.equal(await archive.count(owner), 0);
      });
    });

    describe('accounts', () => {
      it('creates and gets an account', async () => {
        const before = Date.now();
        await storage.accounts.create('example.com', 'juliet', credentials('1'));
        const account = await storage.accounts.get('example.com', 'juliet');
        assert.ok(account);
        assert.deepEqual({ ...account, createdAt: 0 }, { username: 'juliet', host: 'example.com', credentials: credentials('1'), createdAt: 0 });
        assert.ok(account.createdAt >= before && account.createdAt <= Date.now());
        assert.equal(await storage.accounts.get('example.com', 'romeo'), undefined);
        assert.equal(await storage.accounts.get('example.net', 'juliet'), undefined);
      });

      it('refuses a duplicate with AccountExistsError and keeps the original', async () => {
        await storage.accounts.create('example.com', 'juliet', credentials('1'));
        await assert.rejects(storage.accounts.create('example.com', 'juliet', credentials('2')), AccountExistsError);
        assert.deepEqual((await storage.accounts.get('example.com', 'juliet'))?.credentials, credentials('1'));
        await storage.accounts.create('example.net', 'juliet', credentials('3'));
      });

      it('sets credentials of existing accounts only', async () => {
        await storage.accounts.create('example.com', 'juliet', credentials('1'));
        assert.equal(await storage.accounts.setCredentials('example.com', 'juliet', credentials('2')), true);
        assert.deepEqual((await storage.accounts.get('example.com', 'juliet'))?.credentials, credentials('2'));
        assert.equal(await storage.accounts.setCredentials('example.com', 'romeo', credentials('2')), false);
        assert.equal(await storage.accounts.get('example.com', 'romeo'), undefined);
      });

      it('replaces credentials only while they are the expected ones (compare-and-set)', async () => {
        await storage.accounts.create('example.com', 'juliet', credentials('1'));
        const stored = (await storage.accounts.get('example.com', 'juliet'))!.credentials;
        assert.equal(await storage.accounts.setCredentials('example.com', 'juliet', credentials('2'), credentials('9')), false);
        assert.deepEqual((await storage.accounts.get('example.com', 'juliet'))?.credentials, credentials('1'));
        assert.equal(await storage.accounts.setCredentials('example.com', 'juliet', credentials('2'), stored), true);
        assert.deepEqual((await storage.accounts.get('example.com', 'juliet'))?.credentials, credentials('2'));
        assert.equal(await storage.accounts.setCredentials('example.com', 'romeo', credentials('3'), credentials('2')), false);
      });

      it('deletes an account, after which it can be created again', async () => {
        await storage.accounts.create('example.com', 'juliet', credentials('1'));
        assert.equal(await storage.accounts.delete('example.com', 'juliet'), true);
        assert.equal(await storage.accounts.delete('example.com', 'juliet'), false);
        assert.equal(await storage.accounts.get('example.com', 'juliet'), undefined);
        await storage.accounts.create('example.com', 'juliet', credentials('2'));
        assert.deepEqual((await storage.accounts.get('example.com', 'juliet'))?.credentials, credentials('2'));
      });

      it('lists the usernames of one host', async () => {
        assert.deepEqual(await storage.accounts.list('example.com'), []);
        for (const u of ['romeo', 'juliet', 'nurse']) await storage.accounts.create('example.com', u, credentials(u));
        await storage.accounts.create('example.net', 'tybalt', credentials('t'));
        assert.deepEqual((await storage.accounts.list('example.com')).sort(), ['juliet', 'nurse', 'romeo']);
        assert.deepEqual(await storage.accounts.list('example.net'), ['tybalt']);
        assert.deepEqual(await storage.accounts.hosts(), [{ host: 'example.com', accounts: 3 }, { host: 'example.net', accounts: 1 }]);
      });

      it('does not alias credentials', async () => {
        const creds = credentials('1');
        await storage.accounts.create('example.com', 'juliet', creds);
        creds['SCRAM-SHA-256'].salt = 'changed';
        const got = (await storage.accounts.get('example.com', 'juliet'))!;
        got.credentials['SCRAM-SHA-1'].salt = 'mutated';
        assert.deepEqual((await storage.accounts.get('example.com', 'juliet'))?.credentials, credentials('1'));
      });
    });

    describe('exclusive', () => {
      it('runs sections for one (scope, owner) one at a time, so read-modify-writes lose nothing', async () => {
        const kv = storage.keyval<number>('counter');
        const owner = 'juliet@example.com';
        let inside = 0;
        let most = 0;
        await Promise.all(
          Array.from({ length: 20 }, () =>
            storage.exclusive('counter', owner, async () => {
              most = Math.max(most, ++inside);
              const n = (await kv.get(owner)) ?? 0;
              await new Promise((resolve) => setImmediate(resolve));
              await kv.set(owner, n + 1);
              inside--;
            }),
          ),
        );
        assert.equal(most, 1);
        assert.equal(await kv.get(owner), 20);
      });

      it('lets other owners and scopes run meanwhile, and passes results and errors through', async () => {
        let release!: () => void;
        let started!: () => void;
        const running = new Promise<void>((resolve) => (started = resolve));
        const held = storage.exclusive('s', 'juliet@example.com', () =>
          new Promise<string>((resolve) => {
            release = () => resolve('done');
            started();
          }),
        );
        // On a loaded machine the section may start after the others finished: release it only once it holds the lock.
        await running;
        assert.equal(await storage.exclusive('s', 'romeo@example.com', async () => 'other owner'), 'other owner');
        assert.equal(await storage.exclusive('t', 'juliet@example.com', async () => 'other scope'), 'other scope');
        release();
        assert.equal(await held, 'done');
        await assert.rejects(storage.exclusive('s', 'juliet@example.com', async () => Promise.reject(new Error('boom'))), /boom/);
        assert.equal(await storage.exclusive('s', 'juliet@example.com', async () => 'after a failure'), 'after a failure');
      });
    });

    describe('records and restore', () => {
      async function populate(s: Storage): Promise<void> {
        await s.accounts.create('example.com', 'juliet', credentials('j'));
        await s.accounts.create('example.net', 'romeo', credentials('r'));
        await s.keyval('roster_version').set('juliet@example.com', 3);
        await s.keyval('vcard').set('juliet@example.com', '<vCard xmlns="vcard-temp"><FN>Juliet 😀</FN></vCard>');
        await s.map('roster').set('juliet@example.com', 'romeo@example.net', { groups: ['Friends'], subscription: 'both', visible: true });
        await s.map('roster').set('romeo@example.net', 'juliet@example.com', { groups: [], subscription: 'both', visible: true });
        await s.map('pep_items').set('juliet@example.com', 'urn:xmpp:avatar:metadata current', { payload: '<x/>' });
        await fill(s.archive('mam'), 'juliet@example.com', 3);
        await s.archive('offline').append('romeo@example.net', { id: 'o1', when: 5, payload: '<message/>' });
        await s.archive('mam').append('romeo@example.net', { id: 'r1', when: 0, payload: '<message/>' });
      }
      const all = async (s: Storage) => {
        const out = [];
        for await (const r of s.records()) out.push(r);
        return out;
      };

      it('lists every record of every shape, archives in append order', async () => {
        assert.deepEqual(await all(storage), []);
        await populate(storage);
        const records = await all(storage);
        const shapes = records.map((r) => r.shape);
        assert.deepEqual(new Set(shapes), new Set(['account', 'keyval', 'map', 'archive']));
        assert.equal(records.length, 2 + 2 + 3 + 5);
        const archived = records.flatMap((r) => (r.shape === 'archive' ? [`${r.store}:${r.item.id}`] : []));
        assert.deepEqual(archived, ['mam:m1', 'mam:m2', 'mam:m3', 'offline:o1', 'mam:r1']);
      });

      it('restores records into another storage identically, and a second restore adds nothing', async () => {
        await populate(storage);
        const records = await all(storage);
        const target = await open();
        try {
          await target.restore(records);
          const copied = await all(target);
          assert.deepEqual(copied, records);
          assert.deepEqual(await target.accounts.get('example.com', 'juliet'), await storage.accounts.get('example.com', 'juliet'));
          assert.deepEqual(await target.archive('mam').query('juliet@example.com', { after: 'm1' }), await storage.archive('mam').query('juliet@example.com', { after: 'm1' }));
          await target.restore(records);
          assert.deepEqual(await all(target), records);
          // Appends after a restore come after the restored items.
          await target.archive('mam').append('juliet@example.com', { id: 'new', when: 0, payload: '' });
          assert.equal((await target.archive('mam').query('juliet@example.com', { reverse: true, limit: 1 })).items[0]?.id, 'new');
        } finally {
          await target.close();
        }
      });

      it('answers ping while open', async () => {
        await storage.ping();
      });
    });

    describe('lifecycle', () => {
      it('rejects operations after close, and close twice is harmless', async () => {
        await storage.keyval('k').set('juliet@example.com', 1);
        await storage.close();
        await storage.close();
        await assert.rejects(storage.keyval('k').get('juliet@example.com'));
        await assert.rejects(storage.archive('mam').append('juliet@example.com', { when: 1, payload: '' }));
        await assert.rejects(storage.exclusive('s', 'juliet@example.com', async () => 1));
        await assert.rejects(storage.ping());
      });
    });
  });
}
