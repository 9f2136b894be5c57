// docs/SUPPORTED.md is generated from the modules' `specs` and the core's list (packages/server/src/core/specs.ts);
// this keeps it from drifting when a module or the core changes what it implements.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

it('docs/SUPPORTED.md matches the specs the code declares', () => {
  const script = fileURLToPath(new URL('../../scripts/gen-supported.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});
