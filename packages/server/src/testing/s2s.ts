// Federation test helpers: loopback ports chosen before the servers start (each needs the other's in
// s2s.static_routes), and a pair of servers a.test and b.test that reach each other.
import { createServer } from 'node:net';
import { startTestServer, type TestServer } from './harness';

/** A port free on loopback now (the servers need each other's before either starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** a.test and b.test (with their conference services) on loopback, routed to each other by s2s.static_routes. */
export async function startPair(s2sA: Record<string, unknown> = {}, s2sB: Record<string, unknown> = {}): Promise<{ a: TestServer; b: TestServer; portB: number }> {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startTestServer({
    domain: 'a.test',
    s2s: { port: portA, static_routes: { 'b.test': `127.0.0.1:${portB}`, 'conference.b.test': `127.0.0.1:${portB}` }, ...s2sA },
  } as never);
  const b = await startTestServer({
    domain: 'b.test',
    s2s: { port: portB, static_routes: { 'a.test': `127.0.0.1:${portA}`, 'conference.a.test': `127.0.0.1:${portA}` }, ...s2sB },
  } as never);
  return { a, b, portB };
}

