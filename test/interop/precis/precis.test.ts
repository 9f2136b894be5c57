// Interop: our PRECIS code (packages/protocol/src/precis.ts) against precis_i18n, an independent implementation
// (Debian's python3-precis-i18n): the derived property of every code point both Unicode versions assign, and the
// UsernameCaseMapped and OpaqueString profiles (RFC 8265) on strings that exercise the contextual and Bidi rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { derivedProperty, enforceOpaqueString, enforceUsernameCaseMapped } from '../../../packages/protocol/src/precis';

const PYTHON = '/usr/bin/python3';
const available = spawnSync(PYTHON, ['-c', 'import precis_i18n'], { stdio: 'ignore' }).status === 0;

describe('interop: PRECIS against precis_i18n', { skip: available ? false : 'python3-precis-i18n is not installed (apt-get install python3-precis-i18n)', timeout: 120_000 }, () => {
  const run = available
    ? spawnSync(PYTHON, [fileURLToPath(new URL('reference.py', import.meta.url))], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    : undefined;
  const lines = (run?.stdout ?? '').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  it('derives the same property for every code point (FREE_PVAL is our ID_DIS)', () => {
    assert.equal(run?.status, 0, run?.stderr);
    const diffs: string[] = [];
    const points = lines.filter((l) => typeof l.cp === 'number') as { cp: number; property: string }[];
    assert.ok(points.length > 100_000);
    for (const { cp, property } of points) {
      const ours = derivedProperty(cp);
      // Code points our newer Unicode assigns anew can only differ where theirs says UNASSIGNED; those are not listed.
      if (ours !== (property === 'FREE_PVAL' ? 'ID_DIS' : property)) diffs.push(`U+${cp.toString(16)} ${property} ${ours}`);
    }
    assert.deepEqual(diffs.slice(0, 20), []);
  });

  it('enforces UsernameCaseMapped and OpaqueString the same way', () => {
    const cases = lines.filter((l) => typeof l.profile === 'string') as { profile: string; input: string; output: string | null }[];
    assert.ok(cases.length > 10_000);
    const diffs: string[] = [];
    for (const { profile, input, output } of cases) {
      let ours: string | null;
      try {
        ours = profile === 'UsernameCaseMapped' ? enforceUsernameCaseMapped(input) : enforceOpaqueString(input);
      } catch {
        ours = null;
      }
      if (ours !== output) diffs.push(`${profile} ${JSON.stringify(input)}: ${JSON.stringify(output)} / ${JSON.stringify(ours)}`);
    }
    assert.deepEqual(diffs.slice(0, 20), []);
  });
});
