/** Loading the committed PyTorch fixtures (see scripts/make_fixtures.py) and comparing tensors. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpz } from '../../src/formats/npz.js';
import type { HostTensor } from '../../src/tensor.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
/** Third-party exports copied into the repository (licences in fixtures/real-models/README.md). */
export const REAL_MODELS = join(FIXTURES, 'real-models');

export interface FixtureModule {
  name: string;
  type: string;
  calls: number;
  leaf: boolean;
  params: string[];
}

export function fixture(name: string) {
  const dir = join(FIXTURES, name);
  const npz = (file: string) => parseNpz(new Uint8Array(readFileSync(join(dir, file))));
  return {
    path: join(dir, 'model.onnx'),
    inputs: npz('input.npz'),
    golden: npz('golden.npz'),
    goldenInputs: npz('golden_inputs.npz'),
    modules: JSON.parse(readFileSync(join(dir, 'modules.json'), 'utf8')).modules as FixtureModule[],
  };
}

/** Largest |a-b| beyond tolerance (rtol·|b| + atol), or undefined when everything is close. */
export function mismatch(
  actual: { dims: readonly number[]; data: unknown },
  expected: HostTensor,
  rtol = 1e-3,
  atol = 1e-4,
): string | undefined {
  if (actual.dims.join(',') !== expected.dims.join(',')) return `shape [${actual.dims}] vs [${expected.dims}]`;
  const a = actual.data as ArrayLike<number>;
  const b = expected.data as ArrayLike<number>;
  let worst = 0;
  let at = -1;
  for (let i = 0; i < b.length; i++) {
    const excess = Math.abs(Number(a[i]) - Number(b[i])) - (atol + rtol * Math.abs(Number(b[i])));
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  return at >= 0 ? `at ${at}: ${a[at]} vs ${b[at]}` : undefined;
}
