/**
 * Parallel extraction (Node only): N worker threads, each with its own one-thread session of the
 * model, running different batches at once. ONNX Runtime's Node binding runs a session on the
 * calling thread, so in-process sessions cannot overlap; threads can, and two one-thread sessions
 * did a batch in 0.62–0.84× the time of one two-thread session on a 2-core machine (issue 14).
 * The pool is a BatchRunner: extractDataset keeps every worker busy and still yields in order.
 *
 * ```ts
 * const pool = await WorkerPool.start(2, { model: 'digits-cnn.onnx', load: { threads: 1 } });
 * for await (const batch of extractDataset(model, source, options, pool)) ...
 * await pool.close();
 * ```
 */
import { Worker } from 'node:worker_threads';
import type { BatchRunner, CapturedBatch } from '../../dataset/extract.js';
import type { KeyOrigin } from '../../dataset/layout.js';
import { NeurotapError } from '../../errors.js';
import type { CaptureOptions } from '../../model.js';
import type { HostTensor, PlainTensor } from '../../tensor.js';
import {
  fromWire,
  type RunReply,
  type RunRequest,
  transferables,
  type WireTensor,
  type WorkerSpec,
} from './worker-wire.js';

/** More workers than this is a typo (each holds a session and its arena). */
export const MAX_WORKERS = 256;

interface Pending {
  resolve: (batch: CapturedBatch) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

/** The worker's script: the compiled .js beside this file, or the .ts source under tsx (tests, bench). */
function startWorker(spec: WorkerSpec): Worker {
  const self = import.meta.url;
  if (self.endsWith('.js')) return new Worker(new URL('./extract-worker.js', self), { workerData: spec });
  const entry = new URL('./extract-worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: spec });
}

export function checkWorkers(workers: number): number {
  if (Number.isSafeInteger(workers) && workers >= 1 && workers <= MAX_WORKERS) return workers;
  throw new NeurotapError('E_BAD_ARGUMENT', `Expected workers from 1 to ${MAX_WORKERS}; got ${workers}.`, {
    hint: 'E.g. workers: 2 (one per core at most helps).',
    details: { workers, max: MAX_WORKERS },
  });
}

export class WorkerPool implements BatchRunner {
  readonly #slots: Slot[];
  readonly #pending = new Map<number, Pending>();
  readonly #queue: { request: RunRequest; transfer: ArrayBuffer[] }[] = [];
  #next = 0;
  #failure: NeurotapError | undefined;

  private constructor(workers: Worker[]) {
    this.#slots = workers.map((worker) => ({ worker, busy: false }));
    for (const slot of this.#slots) {
      slot.worker.on('message', (reply: RunReply) => this.#settle(slot, reply));
      slot.worker.on('error', (err) => this.#fail(err));
    }
  }

  /** Starts `count` workers and waits until each has loaded its model (its load error, if any, is thrown). */
  static async start(count: number, spec: WorkerSpec): Promise<WorkerPool> {
    const workers = Array.from({ length: checkWorkers(count) }, () => startWorker(spec));
    const loaded = workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          worker.once('message', (m: 'ready' | RunReply) =>
            m === 'ready' ? resolve() : reject(m.error ? fromWire(m.error) : new Error('no ready')),
          );
          worker.once('error', reject);
        }),
    );
    try {
      await Promise.all(loaded);
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new WorkerPool(workers);
  }

  get size(): number {
    return this.#slots.length;
  }

  run(feeds: Record<string, PlainTensor>, options: CaptureOptions): Promise<CapturedBatch> {
    if (this.#failure) return Promise.reject(this.#failure);
    const wire: Record<string, WireTensor> = {};
    // Copies the worker owns: moving the source's own buffer would take it away from the source
    // (which may keep it, or view it from a larger array). Inputs are small beside activations.
    for (const [name, t] of Object.entries(feeds)) wire[name] = { ...t, dims: [...t.dims], data: t.data.slice() };
    const request: RunRequest = { id: this.#next++, feeds: wire, options };
    const transfer = transferables(Object.values(wire));
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      this.#queue.push({ request, transfer });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (slot.busy || !this.#queue.length) continue;
      const { request, transfer } = this.#queue.shift()!;
      slot.busy = true;
      slot.worker.postMessage(request, transfer);
    }
  }

  #settle(slot: Slot, reply: RunReply): void {
    slot.busy = false;
    const pending = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (reply.error) pending?.reject(fromWire(reply.error));
    else
      pending?.resolve({
        tensors: new Map(reply.tensors.map(([key, t]) => [key, t as unknown as HostTensor])),
        origins: new Map<string, KeyOrigin>(reply.origins),
      });
    this.#dispatch();
  }

  /** A worker died (out of memory, a crash in the runtime): every run waiting fails with E_RUNTIME. */
  #fail(err: unknown): void {
    this.#failure ??= new NeurotapError(
      'E_RUNTIME',
      `An extraction worker stopped: ${(err as Error)?.message ?? err}.`,
      {
        hint: 'Run again with one worker (workers: 1) to see the error in the main thread.',
        cause: err,
      },
    );
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
  }

  /** Releases every worker's session and ends the threads. */
  async close(): Promise<void> {
    await Promise.all(
      this.#slots.map(
        ({ worker }) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 5000);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.postMessage('close');
          }),
      ),
    );
  }
}
