// Main-thread and process CPU per archived 1:1 message: two archive appends (sender's and recipient's), 20
// messages a tick, as xep-0313-mam/archiving.ts issues them under load, into a fresh SQLite file.
//   node --import tsx bench/archive-writes.ts thread|inline [ticks]
// `inline`: the storage's own connection on the event loop (sqlite.ts group commit); `thread`: the archive writer
// thread (sqlite-archive-writer.ts). Main-thread CPU is read from /proc (Linux), process CPU from process.cpuUsage.
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../packages/server/src/storage/sqlite';
import { newArchiveId } from '../packages/server/src/storage/common';

const thread = process.argv[2] !== 'inline';
const dir = mkdtempSync(join(tmpdir(), 'parley-archive-writes-'));
const path = join(dir, 'archive.sqlite');
const s = openSqliteStorage(path, { archiveThread: thread });
const a = s.archive('mam');
/** µs of CPU of this process's main thread (utime + stime, in clock ticks of 10 ms). */
const mainThreadUs = (): number => {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};
const payload = `<message xmlns='jabber:client' from='u12@bench.local/r' to='u345@bench.local' type='chat' id='abc123'><body>s3-xyz.1.12345 123456789012</body></message>`;
const PER_TICK = 20;
const TICKS = Number(process.argv[3] ?? 1000);

async function run(ticks: number): Promise<void> {
  const all: Promise<unknown>[] = [];
  for (let t = 0; t < ticks; t++) {
    for (let i = 0; i < PER_TICK; i++) {
      const u = (t * PER_TICK + i) % 1000;
      const v = (u * 7 + 3) % 1000;
      all.push(a.append(`u${v}@bench.local`, { id: newArchiveId(), when: Date.now(), with: `u${u}@bench.local`, payload }));
      all.push(a.append(`u${u}@bench.local`, { when: Date.now(), with: `u${v}@bench.local`, payload }));
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(all);
  await s.settled();
}
await run(200);
const m0 = mainThreadUs();
const c0 = process.cpuUsage();
const t0 = performance.now();
await run(TICKS);
const n = TICKS * PER_TICK;
const c = process.cpuUsage(c0);
console.log(`${thread ? 'thread' : 'inline'}: main thread ${((mainThreadUs() - m0) / n).toFixed(1)} µs, process ${((c.user + c.system) / n).toFixed(1)} µs CPU per message; wall ${((performance.now() - t0) * 1000 / n).toFixed(1)} µs`);
await s.close();
rmSync(dir, { recursive: true, force: true });
