// The cluster bus while Redis is unreachable: what cannot be handed to Redis waits in a queue bounded by
// cluster.redis_queue_bytes (ioredis's own offline queue would keep everything), and goes out once Redis is back.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { RedisBus } from './redis-bus';

// A full collection before each heap reading, so that what is measured is what is still referenced.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const heapUsed = (): number => {
  collectGarbage();
  return process.memoryUsage().heapUsed;
};
const MiB = 1024 * 1024;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function capturingLogger() {
  const lines: { msg: string; dropped?: number }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

describe('cluster bus with Redis unreachable', () => {
  it('keeps at most cluster.redis_queue_bytes while nothing listens, dropping the rest with a log line', async () => {
    const { log, lines } = capturingLogger();
    const bus = new RedisBus(`redis://127.0.0.1:${await closedPort()}`, log, { maxQueuedBytes: MiB });
    const connecting = bus.connect().catch(() => {}); // fails, and ioredis goes on retrying in the background
    try {
      const before = heapUsed();
      // 64 MiB of routed stanzas, published as the router does: many per tick, tick after tick.
      const payload = JSON.stringify({ to: 'juliet@example.com', xml: `<message><body>${'x'.repeat(1000)}</body></message>` });
      for (let round = 0; round < 128; round++) {
        for (let i = 0; i < 512; i++) bus.publish('parley:node:b', payload);
        await tick();
      }
      const grown = heapUsed() - before;
      assert.ok(bus.queuedBytes <= MiB, `queued ${bus.queuedBytes} bytes`);
      assert.ok(grown < 16 * MiB, `heap grew by ${(grown / MiB).toFixed(1)} MiB while Redis was unreachable`);
      assert.ok(lines.some((l) => /dropping/.test(l.msg)), `a warning says messages are dropped: ${JSON.stringify(lines)}`);
    } finally {
      await bus.close();
      await connecting;
    }
  });

  const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
  describe('Redis going away and coming back', { skip: !hasRedisServer && 'redis-server is not installed' }, () => {
    const servers: ChildProcess[] = [];
    after(() => {
      for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    });

    async function startRedis(port: number): Promise<ChildProcess> {
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'pipe' });
      servers.push(child);
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Ready to accept connections')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
      });
      return child;
    }

    async function stopRedis(child: ChildProcess): Promise<void> {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }

    it('holds what fits while Redis is down and sends it, and new messages, once it is back', async () => {
      const port = await closedPort();
      let redis = await startRedis(port);
      const { log } = capturingLogger();
      const bus = new RedisBus(`redis://127.0.0.1:${port}`, log, { maxQueuedBytes: 64 * 1024 });
      const received: string[] = [];
      try {
        await bus.connect();
        await bus.subscribe('parley:test', (payload) => received.push(payload));
        bus.publish('parley:test', 'before');
        for (let i = 0; i < 50 && received.length === 0; i++) await pause(20);
        assert.deepEqual(received, ['before']);

        await stopRedis(redis);
        for (let i = 0; i < 50 && (bus as unknown as { pub: { status: string } }).pub.status === 'ready'; i++) await pause(20);
        for (let i = 0; i < 1000; i++) bus.publish('parley:test', `during-${i}-${'y'.repeat(200)}`);
        await tick();
        assert.ok(bus.queuedBytes > 0 && bus.queuedBytes <= 64 * 1024, `queued ${bus.queuedBytes} bytes`);

        redis = await startRedis(port);
        for (let i = 0; i < 250 && bus.queuedBytes > 0; i++) await pause(20);
        assert.equal(bus.queuedBytes, 0, 'the queue is handed to Redis once it is back');
        // Once both connections are back (the subscriber resubscribed), messages flow again.
        for (let i = 0; i < 250 && !received.includes('after'); i++) {
          bus.publish('parley:test', 'after');
          await pause(20);
        }
        assert.ok(received.includes('after'), `received after the restart: ${received.slice(-3).join(', ')}`);
      } finally {
        await bus.close();
        await stopRedis(redis);
      }
    });
  });
});
