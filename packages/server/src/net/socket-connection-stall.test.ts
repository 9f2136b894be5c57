// SocketConnection.stalledMs, what s2s.write_timeout_s reads: how long written data has waited for a peer that takes
// nothing (the kernel's buffers full, the socket's too), back to 0 once the peer reads again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { SocketConnection } from './socket-connection';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a peer that stops reading', () => {
  it('shows as a growing stall, which ends when it reads again', async () => {
    let peer: Socket | undefined;
    const server = createServer((s) => {
      peer = s;
      s.pause(); // reads nothing
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const conn = new SocketConnection(socket, undefined, 1 << 20, { maxSendBuffer: 1 << 30, tlsHandshakeTimeoutMs: 1000 });
    conn.setHandlers({ onOpen() {}, onElement() {}, onClose() {}, onError() {}, onTransportClosed() {} });
    try {
      assert.equal(conn.stalledMs, 0);
      const chunk = `<message>${'x'.repeat(1 << 20)}</message>`;
      // Enough to fill loopback's socket buffers on both sides.
      for (let i = 0; i < 64 && conn.stalledMs === 0; i++) {
        conn.send(chunk);
        await sleep(20);
      }
      assert.ok(conn.stalledMs > 0, 'the socket backed up');
      const first = conn.stalledMs;
      await sleep(300);
      assert.ok(conn.stalledMs >= first + 250, `stalled ${conn.stalledMs} ms after ${first} ms`);
      peer!.resume();
      peer!.on('data', () => {});
      const end = Date.now() + 10_000;
      while (conn.stalledMs > 0 && Date.now() < end) await sleep(20);
      assert.equal(conn.stalledMs, 0, 'drained once the peer reads');
    } finally {
      conn.destroy();
      peer?.destroy();
      server.close();
    }
  });
});
