/**
 * Plain ONNX Runtime inference (no capture) of ResNet-18 exported by neurotap_torch.export (every
 * module marked by Identity nodes) against the default and the PRESERVE exports, side by side:
 * the markers must cost nothing once ONNX Runtime has removed them. It also prints the ops of the
 * graph ONNX Runtime actually runs (its optimised model), which is timing-independent.
 *
 *   /usr/bin/python3 bench/make_marked.py && node --import tsx bench/markers.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../src/onnx/codec.js';

const BIG = join(import.meta.dirname, '..', 'fixtures', 'big');
const VARIANTS = ['resnet18-224.onnx', 'resnet18-224-preserve.onnx', 'resnet18-224-marked.onnx'];
const BATCH = 8;
const ROUNDS = 5;
const PER_ROUND = 3;

const x = new ort.Tensor('float32', new Float32Array(BATCH * 3 * 224 * 224).fill(0.5), [BATCH, 3, 224, 224]);
const threads = Number(process.env.BENCH_THREADS ?? 2);
const sessions = await Promise.all(
  VARIANTS.map((v) => ort.InferenceSession.create(join(BIG, v), { intraOpNumThreads: threads, interOpNumThreads: 1 })),
);
const times: number[][] = VARIANTS.map(() => []);
for (const s of sessions) await s.run({ x }); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  // Blocks alternate between the variants, so drift on a shared machine hits all of them.
  for (let v = 0; v < sessions.length; v++) {
    for (let i = 0; i < PER_ROUND; i++) {
      const start = performance.now();
      await sessions[v].run({ x });
      times[v].push(performance.now() - start);
    }
  }
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
for (let v = 0; v < VARIANTS.length; v++)
  console.log(`${VARIANTS[v].padEnd(28)} median ${median(times[v]).toFixed(1)} ms over ${times[v].length} runs`);
for (const s of sessions) await s.release();

/** The op counts of the graph ONNX Runtime runs after its optimisations. */
async function optimisedOps(path: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'neurotap-markers-'));
  try {
    const out = join(dir, 'optimised.onnx');
    const opts = {
      optimizedModelFilePath: out,
      graphOptimizationLevel: 'extended' as const,
      logSeverityLevel: 3 as const,
    };
    await (await ort.InferenceSession.create(path, opts)).release();
    const counts = new Map<string, number>();
    for (const n of decodeModel(new Uint8Array(readFileSync(out))).graph?.node ?? [])
      counts.set(n.opType ?? '', (counts.get(n.opType ?? '') ?? 0) + 1);
    return [...counts]
      .sort()
      .map(([op, n]) => `${op} ${n}`)
      .join(', ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
for (const v of VARIANTS) console.log(`${v.padEnd(28)} runs: ${await optimisedOps(join(BIG, v))}`);
