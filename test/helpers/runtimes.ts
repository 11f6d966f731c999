/** The runtime-path tests' shared cases: one fixture run on one runtime, compared with another. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Feeds } from '../../src/capture/feeds.js';
import { float32ToFloat16Bits } from '../../src/compare/cast-feeds.js';
import { parseNpz } from '../../src/formats/npz.js';
import type { NeurotapModel } from '../../src/model.js';
import { float16ToFloat32 } from '../../src/tensor-summary.js';
import { FIXTURES, fixture, mismatch, outputDifference } from './fixtures.js';

/** Fixture folders, and the fp16 export of seed-cnn (fed seed-cnn's inputs as float16). */
export const WEB_SET = [
  'fused-qdq',
  'quant-stubs',
  'quant-fake',
  'compare/seed-cnn-fp16.onnx',
  'control-flow',
  'loop-branch',
  'rnn',
  'rnn-states',
  'recurrent-transposed',
  'seed-cnn',
  'digits-cnn',
  'transformer',
  'tuples-unet',
  'local-functions',
  'dynamo-cond',
  'hf-gpt2',
];

export interface WebCase {
  readonly name: string;
  readonly path: string;
  readonly feeds: Feeds;
  /** The fixture's goldens, where it has them. */
  readonly golden?: ReturnType<typeof fixture>;
  /** Tolerance between the two runtimes (fp16 kernels round differently). */
  readonly rtol: number;
}

export function webCase(name: string): WebCase {
  if (name.endsWith('.onnx')) {
    const x = fixture('seed-cnn').inputs.get('x')!;
    const bits = Uint16Array.from(x.data as Float32Array, float32ToFloat16Bits);
    const feeds = { x: { type: 'float16' as const, dims: x.dims, data: bits } };
    return { name, path: join(FIXTURES, name), feeds, rtol: 1e-2 };
  }
  const dir = join(FIXTURES, name);
  const feeds = Object.fromEntries(parseNpz(new Uint8Array(readFileSync(join(dir, 'input.npz')))));
  const golden = existsSync(join(dir, 'golden.npz')) ? fixture(name) : undefined;
  return { name, path: join(dir, 'model.onnx'), feeds, golden, rtol: 1e-4 };
}

/** What a capture on one runtime gave: keys with their values, reported modules, outputs. */
export interface RuntimeResult {
  readonly tensors: ReadonlyMap<string, { dims: readonly number[]; data: unknown; type: string }>;
  readonly reported: ReadonlySet<string>;
  readonly outputs: Record<string, { dims: readonly number[]; data: unknown; type: string }>;
  readonly plain: Record<string, { dims: readonly number[]; data: unknown; type: string }>;
}

export const CAPTURE = { layers: ['values', 'modules'], inputs: true, float32: true } as const;

export async function runOn(model: NeurotapModel, feeds: Feeds): Promise<RuntimeResult> {
  try {
    const plain = await model.run(feeds);
    const acts = await model.capture(feeds, CAPTURE);
    const reported = new Set(acts.notObservable.map((u) => u.module ?? u.key));
    return { tensors: new Map(acts.entries()), reported, outputs: acts.outputs, plain };
  } finally {
    await model.release();
  }
}

/** The web result against Node's: same values under shared keys, every other Node key reported. */
export function assertSameAsNode(label: string, web: RuntimeResult, node: RuntimeResult, rtol: number): void {
  for (const [key, t] of web.tensors) {
    const expected = node.tensors.get(key);
    assert.ok(expected, `${label}: '${key}' on the web but not in Node`);
    assert.equal(t.type, expected.type, `${label}: ${key} dtype`);
    const asNumbers = { dims: expected.dims, data: Float64Array.from(expected.data as ArrayLike<number>, Number) };
    assert.equal(mismatch(t, asNumbers as never, rtol, 1e-5), undefined, `${label}: ${key} differs from Node`);
  }
  for (const key of node.tensors.keys())
    if (!web.tensors.has(key))
      assert.ok(
        web.reported.has(key.replace(/^in:/, '').split(/[:#]/)[0]),
        `${label}: '${key}' neither on the web nor reported`,
      );
  for (const [out, t] of Object.entries(web.plain)) {
    // The capture upcasts (float32: true); the plain run returns float16 bit patterns.
    const plain =
      t.type === 'float16'
        ? { ...t, type: 'float32', data: float16ToFloat32(Uint16Array.from(t.data as ArrayLike<number>)) }
        : t;
    assert.equal(
      outputDifference(web.outputs[out], plain),
      undefined,
      `${label}: output ${out} under capture vs plain`,
    );
  }
}
