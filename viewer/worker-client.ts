/**
 * The page's side of the worker: each request gets a promise; `Runner` keeps at most one capture
 * in flight and runs only the latest input asked for meanwhile, so a fast stroke on the drawing
 * pad never queues up stale runs.
 */
import type { HostTensor } from '../src/web.js';
import type { ErrorInfo, ModelInfo, ModelSourceMessage, Reply, Request, RunResult } from './protocol.js';

export class ViewerError extends Error {
  constructor(readonly info: ErrorInfo) {
    super(info.message);
  }
}

export class WorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #next = 1;

  constructor(url: URL) {
    this.#worker = new Worker(url, { type: 'module' });
    this.#worker.onmessage = (event: MessageEvent<Reply>) => this.#settle(event.data);
    this.#worker.onerror = (event) => {
      const error = new ViewerError({ code: 'E_INTERNAL', message: `The model worker failed: ${event.message}` });
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    };
  }

  load(source: ModelSourceMessage, wasmPaths: string): Promise<ModelInfo> {
    return this.#ask({ op: 'load', source, wasmPaths }, 'bytes' in source ? [source.bytes] : []) as Promise<ModelInfo>;
  }

  random(seed: number): Promise<Record<string, HostTensor>> {
    return this.#ask({ op: 'random', seed }) as Promise<Record<string, HostTensor>>;
  }

  run(feeds: Record<string, HostTensor>, layers: string[]): Promise<RunResult> {
    return this.#ask({ op: 'run', feeds, layers }) as Promise<RunResult>;
  }

  #ask(request: Request, transfer: Transferable[] = []): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, request }, transfer);
    });
  }

  #settle(reply: Reply): void {
    const pending = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    if (!pending) return;
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new ViewerError(reply.error));
  }
}

export interface RunRequest {
  readonly feeds: Record<string, HostTensor>;
  readonly layers: string[];
}

/** One capture at a time; requests made meanwhile collapse into the latest. */
export class Runner {
  #busy = false;
  #queued: RunRequest | undefined;

  constructor(
    private readonly client: WorkerClient,
    private readonly onResult: (result: RunResult, request: RunRequest) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  request(run: RunRequest): void {
    this.#queued = run;
    if (!this.#busy) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    while (this.#queued) {
      const run = this.#queued;
      this.#queued = undefined;
      try {
        this.onResult(await this.client.run(run.feeds, run.layers), run);
      } catch (err) {
        this.onError(err);
      }
    }
    this.#busy = false;
  }
}
