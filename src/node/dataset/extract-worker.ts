/**
 * The body of one extraction worker thread (Node only; started by WorkerPool): loads its own
 * session of the model (one intra-op thread, as `workerData` says), then captures each batch it is
 * sent and sends the tensors back, their buffers transferred rather than copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { captureBatch } from '../../dataset/extract.js';
import type { CaptureOptions } from '../../model.js';
import type { PlainTensor, TypedArray } from '../../tensor.js';
import { loadModel } from '../index.js';
import {
  type RunReply,
  type RunRequest,
  transferables,
  type WorkerSpec,
  wireError,
  type WireTensor,
} from './worker-wire.js';

const spec = workerData as WorkerSpec;
const port = parentPort!;

async function serve(): Promise<void> {
  const model = await loadModel(spec.model, spec.load);
  port.on('message', async (message: RunRequest | 'close') => {
    if (message === 'close') {
      await model.release().catch(() => undefined);
      port.close();
      return;
    }
    try {
      const { tensors, origins } = await captureBatch(
        model,
        message.feeds as Record<string, PlainTensor>,
        message.options as CaptureOptions,
      );
      const wire: [string, WireTensor][] = [...tensors].map(([key, t]) => [
        key,
        { type: t.type, dims: [...t.dims], data: t.data },
      ]);
      const reply: RunReply = { id: message.id, tensors: wire, origins: [...origins] };
      try {
        port.postMessage(reply, transferables(wire.map(([, t]) => t)));
      } catch {
        // Memory the runtime lends (zero-copy outputs) may not move between threads: send copies.
        for (const [, t] of wire) t.data = (t.data as TypedArray).slice();
        port.postMessage(reply, transferables(wire.map(([, t]) => t)));
      }
    } catch (err) {
      port.postMessage({ id: message.id, error: wireError(err) } satisfies RunReply);
    }
  });
  port.postMessage('ready');
}

serve().catch((err) => {
  // The pool is waiting for 'ready': this is its load error (a bad model file, a missing .data file).
  port.postMessage({ id: -1, error: wireError(err) } satisfies RunReply);
});
