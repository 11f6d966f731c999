/** Loading the committed PyTorch fixtures (see scripts/make_fixtures.py) and comparing tensors. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpz } from '../../src/formats/npz.js';
import type { HostTensor } from '../../src/tensor.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
/** Third-party exports copied into the repository (licences in fixtures/real-models/README.md). */
export const REAL_MODELS = join(FIXTURES, 'real-models');

/** Modules that a TorchScript export leaves no trace of, so no module map can list them. */
export const INVISIBLE: Record<string, RegExp> = {
  // BatchNorm folded into the Conv before it: neither its nodes nor its parameters survive.
  resnet18: /(^|\.)(bn\d|downsample\.1)$/,
  'fused-bn': /(^|\.)bn$|^seq\.1$/,
  'nnzoo-dedup-bias': /\.bn$/,
  'opaque-first-input': /^bn$/,
  // A DeQuantStub before convert is an identity: no node, no parameter.
  'quant-fake': /^dequant$/,
  // Dropout in eval exports as nothing (HF's tiny GPT-2 and BERT, scripts/fixtures_transformers.py).
  'hf-gpt2': /(^|\.)(drop|attn_dropout|resid_dropout|dropout)$/,
  'hf-bert': /\.dropout$/,
  // nn.TransformerEncoderLayer's dropouts (scripts/fixtures_outputs.py).
  'outputs-shared-mask': /\.dropout[12]?$/,
  // Folded BatchNorms that are no numbered gap, a Dropout and an Identity (scripts/fixtures_vision.py).
  'vision-untraced': /^(bn1|block\.[02]\.1|skip|drop)$/,
  // Names from parameters only: a Sequential's trailing ReLU leaves no name and no numbered gap.
  'parameter-names': /^tail\.1$/,
  // An unrolled ModuleList's later elements lose their children's scopes: the GELU child of layers.1
  // and layers.2 leaves no name (their Linear is placed by its parameter and layers.0.0's scope).
  'scripted-modulelist': /^layers\.[12]\.1$/,
};

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

/** What assertMatchesGoldens reads of a capture (an ActivationCache). */
interface CapturedKeys {
  get(key: string): { dims: readonly number[]; data: unknown } | undefined;
  keys(): Iterable<string>;
  whyNotObservable(name: string): { reason: string } | undefined;
}

/**
 * The first law on one capture against a fixture's goldens: each PyTorch hook key is captured equal
 * to PyTorch, or its module is reported with a reason, or matches `invisible` (modules the export
 * leaves no trace of); each captured key is a PyTorch key (output or pre-hook input) equal to it.
 * Returns how many hook keys were compared.
 */
export function assertMatchesGoldens(
  acts: CapturedKeys,
  fx: Pick<ReturnType<typeof fixture>, 'golden' | 'goldenInputs'>,
  label: string,
  invisible?: RegExp,
): number {
  const missing: string[] = [];
  let compared = 0;
  for (const [key, expected] of fx.golden) {
    if (key.startsWith('__output__')) continue;
    const actual = acts.get(key);
    const module = key.split(/[:#]/)[0];
    if (actual) {
      assert.equal(mismatch(actual, expected), undefined, `${label}: ${key} differs from PyTorch`);
      compared++;
    } else if (acts.whyNotObservable(module)) {
      assert.ok(acts.whyNotObservable(module)!.reason.length > 10, `${label}: ${module}'s reason says nothing`);
    } else if (!invisible?.test(module)) missing.push(key);
  }
  assert.deepEqual(missing, [], `${label}: modules neither captured nor reported`);
  for (const key of acts.keys()) {
    const expected = key.startsWith('in:') ? fx.goldenInputs.get(key.slice(3)) : fx.golden.get(key);
    assert.ok(expected, `${label}: captured '${key}' is not a PyTorch hook or pre-hook key`);
    assert.equal(mismatch(acts.get(key)!, expected), undefined, `${label}: ${key} differs from PyTorch`);
  }
  return compared;
}

type Data = { dims: readonly number[]; type: string; data: unknown };

/** Where two outputs differ beyond the invariant's tolerance, or undefined. */
export function outputDifference(actual: Data, expected: Data): string | undefined {
  if (actual.type !== expected.type) return `dtype ${actual.type} vs ${expected.type}`;
  if (actual.dims.join(',') !== expected.dims.join(',')) return `shape [${actual.dims}] vs [${expected.dims}]`;
  const a = actual.data as ArrayLike<number | bigint>;
  const b = expected.data as ArrayLike<number | bigint>;
  const float = actual.type.startsWith('float');
  for (let i = 0; i < b.length; i++) {
    const same = float
      ? Math.abs(Number(a[i]) - Number(b[i])) <= 1e-5 * Math.max(1, Math.abs(Number(b[i]))) || Object.is(a[i], b[i])
      : a[i] === b[i];
    if (!same) return `at ${i}: ${a[i]} vs ${b[i]}`;
  }
  return undefined;
}
