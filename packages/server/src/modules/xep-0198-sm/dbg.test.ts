import { it } from 'node:test';
import { startTestServer } from '../../testing/harness';
it('dbg', { timeout: 20000 }, async () => {
  const ts = await startTestServer({ modules: { disabled: ['sasl2'] } } as never);
  await ts.createUser('alice');
  const a = await ts.client('alice');
  const x = a.xmpp as any;
  x.on('element', (el: any) => console.log('IN ', el.toString().slice(0, 200)));
  x.on('send', (el: any) => console.log('OUT', el.toString().slice(0, 200)));
  x.on('status', (s: any) => console.log('STATUS', s));
  await new Promise((r) => setTimeout(r, 300));
  console.log('sm', x.streamManagement.enabled, x.streamManagement.id);
  (x.socket.socket ?? x.socket).destroy();
  await new Promise((r) => setTimeout(r, 300));
  console.log('reconnecting');
  try { await x.reconnect.reconnect(); } catch (e) { console.log('ERR', e); }
  console.log('reconnect returned');
  await new Promise((r) => setTimeout(r, 2000));
  await ts.stop();
});
