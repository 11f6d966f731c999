/**
 * JS overhead of one `capture` at batch 1 on the digits CNN: the time a capture takes less the time
 * spent inside `session.run` (measured by a runtime whose sessions time their runs), per capture.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NeurotapModel } from '../src/model.js';
import { nodeRuntime } from '../src/node/index.js';
import type { InferenceSession, Runtime } from '../src/runtime/runtime.js';
import { type CaseResult, clockMs, stats } from './cases.js';

/** nodeRuntime, with the time its sessions spend in `run` added up in `inside.ms`. */
function timedRuntime(inside: { ms: number }): Runtime {
  return {
    Tensor: nodeRuntime.Tensor,
    InferenceSession: {
      async create(model: Uint8Array, options?: InferenceSession.SessionOptions) {
        const session = await nodeRuntime.InferenceSession.create(model, options);
        const run = session.run.bind(session);
        session.run = (async (...args: Parameters<typeof run>) => {
          const t = clockMs();
          try {
            return await run(...args);
          } finally {
            inside.ms += clockMs() - t;
          }
        }) as typeof session.run;
        return session;
      },
    } as Runtime['InferenceSession'],
  };
}

/** Microseconds of JS per capture (median of blocks of `perBlock` captures). */
export async function captureOverheadCase(
  root: string,
  threads: number,
  blocks = 9,
  perBlock = 400,
): Promise<CaseResult> {
  const inside = { ms: 0 };
  const bytes = new Uint8Array(readFileSync(join(root, 'fixtures', 'digits-cnn.onnx')));
  const model = NeurotapModel.fromBytes(bytes, timedRuntime(inside), { threads });
  const feeds = { image: { data: Float32Array.from({ length: 64 }, (_, i) => (i % 17) / 16), dims: [1, 1, 8, 8] } };
  for (let i = 0; i < perBlock; i++) await model.capture(feeds);
  const overhead: number[] = [];
  const totals: number[] = [];
  for (let b = 0; b < blocks; b++) {
    inside.ms = 0;
    const t = clockMs();
    for (let i = 0; i < perBlock; i++) await model.capture(feeds);
    const total = clockMs() - t;
    totals.push((total * 1000) / perBlock);
    overhead.push(((total - inside.ms) * 1000) / perBlock);
  }
  const s = stats(overhead);
  return {
    case: `digits-cnn b1: JS per capture around session.run (µs; a capture ${stats(totals).median.toFixed(0)} µs)`,
    ours: s,
    baseline: 'µs per capture',
    baselineMs: null,
    ratio: null,
    target: '≤ 10 µs',
  };
}
