// Helpers for tests that run Parley as a child process (`parley start`, `npm start`) and talk to it over TCP.
import { connect } from 'node:net';

/** A TCP port in 20000–39999 for a child server whose port the test must know before it starts. */
export const randomPort = (): number => 20000 + Math.floor(Math.random() * 20000);

/** Whether something accepts TCP connections on 127.0.0.1:`port` right now. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
