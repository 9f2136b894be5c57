// Shared by the XEP-0133 tests: running an admin command through its XEP-0050 form.
import assert from 'node:assert/strict';
import type { XmlElement } from '@parley/protocol';
import type { TestClient } from '../../testing/harness';

export const CMD = 'http://jabber.org/protocol/commands';
export const ADMIN = 'http://jabber.org/protocol/admin';

/** Executes a command and returns its first stage (XEP-0050 §3.2). */
export async function startCommand(c: TestClient, name: string): Promise<XmlElement> {
  const first = await c.iq(`<iq type='set' to='localhost'><command xmlns='${CMD}' node='${ADMIN}#${name}' action='execute'/></iq>`);
  assert.equal(first.attrs.type, 'result', first.toString());
  return first.getChild('command', CMD)!;
}

/** Runs a command through its form: execute, then submit the fields (XEP-0050 §3.2–§3.4); it must complete. */
export async function runCommand(c: TestClient, name: string, fields: Record<string, string | string[]> = {}): Promise<XmlElement> {
  const cmd = await startCommand(c, name);
  if (cmd.attrs.status === 'completed') return cmd;
  const fx = Object.entries(fields)
    .map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join('')}</field>`)
    .join('');
  const done = await c.iq(
    `<iq type='set' to='localhost'><command xmlns='${CMD}' node='${ADMIN}#${name}' sessionid='${cmd.attrs.sessionid}'>` +
      `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>${ADMIN}</value></field>${fx}</x></command></iq>`,
  );
  assert.equal(done.attrs.type, 'result', done.toString());
  const out = done.getChild('command', CMD)!;
  assert.equal(out.attrs.status, 'completed');
  return out;
}
