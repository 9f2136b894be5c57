// Reads a password without echo from a terminal, or the first line of standard input from a pipe
// (so scripts can provision accounts without putting passwords on the command line).
import { createInterface } from 'node:readline';

export async function readPassword(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    const rl = createInterface({ input });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    throw new Error('no password given (use --password or pipe it on standard input)');
  }
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (ch: string) => {
      for (const c of ch) {
        if (c === '\r' || c === '\n') {
          cleanup();
          process.stderr.write('\n');
          return resolve(value);
        }
        if (c === '\u0003') {
          cleanup();
          return reject(new Error('cancelled'));
        }
        if (c === '\u007f') value = value.slice(0, -1);
        else value += c;
      }
    };
    const cleanup = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
    };
    input.on('data', onData);
  });
}
