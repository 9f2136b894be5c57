// The archive writer's thread (sqlite-archive-writer.ts): its own better-sqlite3 connection to the database file
// that commits archive writes in batches, off the main event loop. Plain JavaScript because the server runs its
// TypeScript through tsx's loader, which a worker thread does not inherit.
//
// Protocol on the port from workerData: in, { seq, ops } where ops is a flat array, OP_STRIDE values per write
// (see sqlite-archive-writer.ts); out, { seq, results, errors } once the batch's transaction has committed
// (WAL, synchronous = NORMAL: the commit is in the -wal file, so it survives kill -9 of the process), or
// { seq, failed } when the whole transaction failed. results[i] is an append's id or a replace/delete's change
// count; errors lists [i, code, message] for single writes that failed (a duplicate id) inside a committed batch.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

const OP_STRIDE = 7;
const APPEND = 0;
const APPEND_NEW_ID = 1;
const REPLACE = 2;
const DELETE = 3;

const { path, busyTimeoutMs, port } = workerData;
const db = new Database(path);
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
// Per connection: see sqlite.ts for why NORMAL is enough under WAL (the main connection set journal_mode).
db.pragma('synchronous = NORMAL');

const insert = db.prepare('INSERT INTO archive (store, owner, id, when_ms, with_jid, payload) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
const replace = db.prepare('UPDATE archive SET payload = ? WHERE store = ? AND owner = ? AND id = ?');
const deletions = new Map();
function deleteStatement(byIds, byTime) {
  const key = `${byIds}${byTime}`;
  let stmt = deletions.get(key);
  if (!stmt) {
    const clauses = ['store = ?', 'owner = ?'];
    // One bound JSON array instead of one placeholder per id: no SQLITE_MAX_VARIABLE_NUMBER limit.
    if (byIds) clauses.push('id IN (SELECT value FROM json_each(?))');
    if (byTime) clauses.push('when_ms < ?');
    stmt = db.prepare(`DELETE FROM archive WHERE ${clauses.join(' AND ')}`);
    deletions.set(key, stmt);
  }
  return stmt;
}

function newArchiveId() {
  return randomBytes(9).toString('base64url');
}

/** Runs one write; returns its result or throws. A failed statement leaves the transaction as it was. */
function run(ops, o) {
  const kind = ops[o];
  const store = ops[o + 1];
  const owner = ops[o + 2];
  switch (kind) {
    case APPEND: {
      const id = ops[o + 3];
      if (insert.run(store, owner, id, ops[o + 4], ops[o + 5], ops[o + 6]).changes === 0) {
        throw Object.assign(new Error(`archived item '${id}' exists`), { storageCode: 'conflict' });
      }
      return id;
    }
    case APPEND_NEW_ID: {
      // The id was drawn on the main thread; 72 random bits make a collision all but impossible, and a new one here
      // costs nothing if it happens.
      for (let id = ops[o + 3]; ; id = newArchiveId()) {
        if (insert.run(store, owner, id, ops[o + 4], ops[o + 5], ops[o + 6]).changes > 0) return id;
      }
    }
    case REPLACE:
      return replace.run(ops[o + 4], store, owner, ops[o + 3]).changes;
    case DELETE: {
      const ids = ops[o + 3];
      const before = ops[o + 4];
      const params = [store, owner];
      if (ids !== null) params.push(ids);
      if (before !== null) params.push(before);
      return deleteStatement(ids !== null, before !== null).run(...params).changes;
    }
    default:
      throw new Error(`unknown archive write ${kind}`);
  }
}

// BEGIN IMMEDIATE takes the write lock up front, so a busy database fails the whole batch at its start (and
// the batch is reported failed) rather than at some write in the middle.
const commit = db.transaction((batches) => {
  const outcomes = [];
  for (const { ops } of batches) {
    const results = [];
    const errors = [];
    for (let o = 0, i = 0; o < ops.length; o += OP_STRIDE, i++) {
      try {
        results.push(run(ops, o));
      } catch (err) {
        results.push(null);
        errors.push([i, err.storageCode ?? err.code ?? null, String(err.message ?? err)]);
      }
    }
    outcomes.push({ results, errors });
  }
  return outcomes;
}).immediate;

port.on('message', (first) => {
  // Batches that queued up while the last transaction ran are committed together in one transaction.
  const batches = [first];
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    if (m.message.close) {
      flush(batches);
      return shutDown();
    }
    batches.push(m.message);
  }
  if (first.close) return shutDown();
  flush(batches);
});

/** How long a batch keeps waiting for a write lock that another connection (a CLI command) holds. */
const BUSY_RETRY_MS = 60_000;
const pause = new Int32Array(new SharedArrayBuffer(4));

function flush(batches) {
  const ready = batches.filter((b) => !b.close);
  if (ready.length === 0) return;
  let outcomes;
  for (const start = Date.now(); ; ) {
    try {
      outcomes = commit(ready);
      break;
    } catch (err) {
      // busy_timeout has passed: this thread may wait longer (nothing else runs on it), and a failed batch would
      // lose archived messages whose delivery already happened.
      if (err.code === 'SQLITE_BUSY' && Date.now() - start < BUSY_RETRY_MS) {
        Atomics.wait(pause, 0, 0, 50);
        continue;
      }
      for (const { seq } of ready) port.postMessage({ seq, failed: { code: err.code ?? null, message: String(err.message ?? err) } });
      return;
    }
  }
  ready.forEach(({ seq }, k) => port.postMessage({ seq, ...outcomes[k] }));
}

function shutDown() {
  db.close();
  port.postMessage({ closed: true });
  port.close();
}
