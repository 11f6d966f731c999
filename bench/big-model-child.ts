/**
 * One big-model loading measurement in a fresh process (so peak RSS is its own):
 * `ort` creates a plain ONNX Runtime session from the file; `neurotap` loads the model and creates
 * the capture session for every leaf module. Prints {"ms", "peakRssMB"}.
 */
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { loadModel } from '../src/node/index.js';

const [mode, path] = process.argv.slice(2);
const start = performance.now();
if (mode === 'ort') {
  await ort.InferenceSession.create(path, { intraOpNumThreads: 2 });
} else {
  const model = await loadModel(path, { threads: 2 });
  await model.prepare();
}
const ms = performance.now() - start;
// VmHWM is this process's own peak: getrusage's maxRSS keeps the parent's peak across fork and exec.
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
console.log(JSON.stringify({ ms, peakRssMB: hwm / 1024 }));
