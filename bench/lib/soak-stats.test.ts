import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdSet, fitRss, s3CapacityFromResults, soakVerdict, type RssSample } from './soak-stats';

const MiB = 1024;
const samples = (f: (t: number) => number, fromS: number, toS: number, stepS: number): RssSample[] => {
  const out: RssSample[] = [];
  for (let t = fromS; t <= toS; t += stepS) out.push({ t_s: t, rss_kib: f(t) * MiB });
  return out;
};
const clean = { sent: 1000, received: 1000, lost: 0, duplicates: 0, errors: 0 };

test('fitRss: slope in MiB/min of a steadily growing RSS', () => {
  // 300 MiB growing 3 MiB per minute, sampled every 5 s for 8 minutes.
  const fit = fitRss(samples((t) => 300 + (3 * t) / 60, 120, 600, 5))!;
  assert.ok(Math.abs(fit.slope - 3) < 1e-9);
  assert.ok(Math.abs(fit.intercept - 300) < 1e-9);
  assert.ok(Math.abs(fit.r2 - 1) < 1e-9);
  assert.equal(fit.n, 97);
});

test('fitRss: a GC sawtooth around a flat level has a slope near zero', () => {
  const fit = fitRss(samples((t) => 300 + ((t % 60) / 60) * 40, 0, 600 - 5, 5))!;
  assert.ok(Math.abs(fit.slope) < 0.5, `slope ${fit.slope}`);
});

test('fitRss: fewer than two distinct times give no fit', () => {
  assert.equal(fitRss([]), undefined);
  assert.equal(fitRss([{ t_s: 10, rss_kib: 1 }]), undefined);
  assert.equal(fitRss([{ t_s: 10, rss_kib: 1 }, { t_s: 10, rss_kib: 2 }]), undefined);
});

test('soakVerdict: flat memory and every message delivered pass', () => {
  const v = soakVerdict(fitRss(samples(() => 250, 0, 300, 5)), clean, true);
  assert.equal(v.pass, true);
  assert.deepEqual(v.reasons, []);
  assert.ok(v.criteria.some((c) => c.includes('≤ 2 MiB/min')));
});

test('soakVerdict: growth above the limit fails and says by how much', () => {
  const v = soakVerdict(fitRss(samples((t) => 250 + (5 * t) / 60, 0, 300, 5)), clean, true);
  assert.equal(v.pass, false);
  assert.deepEqual(v.reasons, ['RSS grows 5.00 MiB/min after warm-up (limit 2)']);
  assert.equal(soakVerdict(fitRss(samples((t) => 250 + (5 * t) / 60, 0, 300, 5)), clean, true, { maxSlopeMiBPerMin: 6, minSamples: 10 }).pass, true);
});

test('soakVerdict: loss, duplicates, bounces, a dead server and too few samples each fail', () => {
  const flat = fitRss(samples(() => 250, 0, 300, 5));
  assert.deepEqual(soakVerdict(flat, { ...clean, received: 998, lost: 2 }, true).reasons, ['2 of 1000 messages lost']);
  assert.deepEqual(soakVerdict(flat, { ...clean, duplicates: 3 }, true).reasons, ['3 messages delivered more than once']);
  assert.deepEqual(soakVerdict(flat, { ...clean, errors: 1 }, true).reasons, ['1 error bounces']);
  assert.deepEqual(soakVerdict(flat, clean, false).reasons, ['server process died']);
  assert.equal(soakVerdict(fitRss(samples(() => 250, 0, 20, 5)), clean, true).pass, false);
  assert.equal(soakVerdict(flat, { ...clean, sent: 0, received: 0 }, true).pass, false);
});

test('IdSet: counts distinct ids, duplicates within and across receivers, and the missing ones', () => {
  const a = new IdSet();
  const b = new IdSet();
  for (let seq = 0; seq < 20_000; seq += 2) a.add(seq);
  for (let seq = 1; seq < 20_000; seq += 2) b.add(seq);
  a.add(4); // the same session got id 4 twice
  b.add(10); // id 10 reached a second session
  b.add(19_999); // already there: duplicate
  const merged = new IdSet();
  merged.merge(IdSet.fromBase64(a.toBase64(), a.duplicates));
  merged.merge(IdSet.fromBase64(b.toBase64(), b.duplicates));
  assert.equal(merged.countBelow(20_000), 20_000);
  assert.equal(merged.duplicates, 3);
  assert.deepEqual(merged.missingBelow(20_003, 5), [20_000, 20_001, 20_002]);
  assert.equal(new IdSet().countBelow(100), 0);
  assert.equal(IdSet.fromBase64(new IdSet().toBase64()).countBelow(100), 0);
});

test('s3CapacityFromResults: reads Parley’s column of the S3 capacity row', () => {
  const md = [
    '| scenario | metric | unit | better | Parley | Prosody | ejabberd |',
    '| --- | --- | --- | --- | ---: | ---: | ---: |',
    '| S3 | max msg/s with p99<100ms, no loss | msg/s | ↑ | 10,000 | 2,000 | 5,000 |',
    '| S3 | p50 at that rate | ms | ↓ | 1.92 | 5.31 | 1 |',
  ].join('\n');
  assert.equal(s3CapacityFromResults(md), 10_000);
  assert.equal(s3CapacityFromResults(md.replace('10,000', '—')), undefined);
  assert.equal(s3CapacityFromResults('no table'), undefined);
});
