import { startTestServer } from '/work/main/packages/server/src/testing/harness';
const ts = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
await ts.createUser('alice'); await ts.createUser('bob');
console.log(JSON.stringify({ port: ts.port, tlsPort: ts.tlsPort }));
const bob = await ts.client('bob');
setInterval(()=>{ for (const r of bob.received.splice(0)) console.log('BOB GOT', r.toString()); }, 200);
setTimeout(async()=>{ await ts.stop(); process.exit(0); }, Number(process.env.LIFE ?? 60000));
