/** The conformance script on a miniature corpus: types the JS API cannot pass, and ±inf outputs. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closeEnough } from '../scripts/conformance-compare.js';
import type { HostTensor } from '../src/tensor.js';
import { FIXTURES } from './helpers/fixtures.js';

const f32 = (values: number[]): HostTensor => ({
  type: 'float32',
  dims: [values.length],
  data: Float32Array.from(values),
});

describe('conformance comparison', () => {
  it('treats ±inf as equal to itself and NaN as equal to NaN, not inf to -inf', () => {
    assert.equal(
      closeEnough(f32([Infinity, -Infinity, Number.NaN, 1]), f32([Infinity, -Infinity, Number.NaN, 1])),
      true,
    );
    assert.equal(closeEnough(f32([Infinity]), f32([-Infinity])), false);
    assert.equal(closeEnough(f32([1e30]), f32([Infinity])), false);
    assert.equal(closeEnough(f32([Number.NaN]), f32([Infinity])), false);
  });
});

describe('conformance run', () => {
  it('skips bfloat16, float8 and int4 cases with a reason, runs string inputs, and still prints the summary', () => {
    const script = join(import.meta.dirname, '..', 'scripts', 'conformance.ts');
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', script, '--json', '--root', join(FIXTURES, 'conformance-mini')],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(out) as {
      summary: Record<string, number>;
      results: { name: string; outcome: string; reason?: string }[];
    };
    assert.deepEqual(report.summary, {
      total: 5,
      nonTensorIo: 0,
      notRunnableByOrt: 3,
      runnable: 2,
      passing: 2,
      failing: 0,
    });
    const byName = new Map(report.results.map((r) => [r.name, r]));
    assert.equal(byName.get('test_div_by_zero_inf')?.outcome, 'pass');
    assert.equal(byName.get('test_cast_STRING_to_FLOAT')?.outcome, 'pass'); // string[] feeds reach ORT
    assert.match(byName.get('test_cast_BFLOAT16_to_FLOAT')!.reason!, /bfloat16/);
    assert.match(byName.get('test_cast_FLOAT_to_INT4')!.reason!, /int4/);
    assert.match(byName.get('test_cast_FLOAT_to_FLOAT8E4M3FN')!.reason!, /float8e4m3fn/);
  });
});
