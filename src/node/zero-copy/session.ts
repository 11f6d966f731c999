/**
 * An InferenceSession on ONNX Runtime's C API whose outputs are returned without a copy: each
 * output tensor's data is a view of the memory ONNX Runtime computed it in, released when the
 * JS ArrayBuffer is garbage-collected (onnxruntime-node's binding memcpy's every output instead).
 */
import koffi from 'koffi';
import * as ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { check, ortApi, type OrtApi } from './ort-capi.js';

/** ONNX TensorProto element types ↔ onnxruntime-common tensor types and their arrays. */
const TYPES: Record<
  number,
  [Tensor.Type, { new (b: ArrayBuffer, o?: number, n?: number): ArrayBufferView; BYTES_PER_ELEMENT: number }]
> = {
  1: ['float32', Float32Array],
  2: ['uint8', Uint8Array],
  3: ['int8', Int8Array],
  4: ['uint16', Uint16Array],
  5: ['int16', Int16Array],
  6: ['int32', Int32Array],
  7: ['int64', BigInt64Array],
  9: ['bool', Uint8Array],
  10: ['float16', Uint16Array],
  11: ['float64', Float64Array],
  12: ['uint32', Uint32Array],
  13: ['uint64', BigUint64Array],
};
const ELEMENT_TYPE = Object.fromEntries(Object.entries(TYPES).map(([k, [t]]) => [t, Number(k)])) as Record<
  string,
  number
>;

let env: unknown;
let cpuMemory: unknown;

function environment(a: OrtApi): unknown {
  if (env) return env;
  const out = [null];
  check(a.CreateEnv(3, 'neurotap', out));
  env = out[0];
  const info = [null];
  // OrtDeviceAllocator (0), OrtMemTypeDefault (0): input tensors wrap JS memory.
  check(a.CreateCpuMemoryInfo(0, 0, info));
  cpuMemory = info[0];
  return env;
}

/** Frees an output's OrtValue once the ArrayBuffer viewing its memory is collected. */
const released = new FinalizationRegistry<unknown>((value) => ortApi().ReleaseValue(value));

/** Binds the C API and creates the process's OrtEnv (throws where either cannot be loaded). */
export function loadOrtApi(): void {
  environment(ortApi());
}

type Fallback = () => Promise<InferenceSession>;

/**
 * Below these sizes the binding is faster: its copy of a few KB costs less than the C calls that
 * describe each output (measured on the digits CNN at batch 1: 97 µs a capture on the binding, 336
 * on this path), and building a second session of a small model is cheap.
 */
const SMALL_MODEL_BYTES = 16 * 2 ** 20;
const SMALL_OUTPUT_BYTES = 64 * 2 ** 10;

export class ZeroCopySession {
  #fallback: Promise<InferenceSession> | undefined;
  /** Set after a first run of a small model with small outputs: later runs go to the binding. */
  #onBinding = false;
  #ranOnce = false;

  private constructor(
    private handle: unknown,
    /** Builds the binding's session; it holds the model bytes, so it is dropped once no longer needed. */
    private createFallback: Fallback | undefined,
    private readonly small: boolean,
  ) {}

  static create(model: Uint8Array, options: InferenceSession.SessionOptions, fallback: Fallback): ZeroCopySession {
    const a = ortApi();
    const e = environment(a);
    const out = [null];
    check(a.CreateSessionOptions(out));
    const opts = out[0];
    try {
      applyOptions(a, opts, options);
      const session = [null];
      check(a.CreateSessionFromArray(e, model, model.byteLength, opts, session));
      const small = model.byteLength < SMALL_MODEL_BYTES && process.env.NEUROTAP_ZERO_COPY !== 'always';
      return new ZeroCopySession(session[0], fallback, small);
    } finally {
      a.ReleaseSessionOptions(opts);
    }
  }

  async run(feeds: Record<string, Tensor>, fetches: readonly string[]): Promise<Record<string, Tensor>> {
    if (this.#onBinding || Object.values(feeds).some((t) => ELEMENT_TYPE[t.type] === undefined))
      return this.#runOnBinding(feeds, fetches);
    const a = ortApi();
    const names = Object.keys(feeds);
    const keep: unknown[] = [];
    const inputs = names.map((n) => inputValue(a, feeds[n], keep));
    const outputs = new BigUint64Array(fetches.length);
    try {
      // On a worker thread (koffi's async call): the event loop stays free while the model runs.
      const status = await new Promise((resolve, reject) =>
        a.Run.async(
          this.handle,
          null,
          names,
          inputs,
          names.length,
          fetches,
          fetches.length,
          outputs,
          (err: unknown, s: unknown) => (err ? reject(err) : resolve(s)),
        ),
      );
      check(status);
    } finally {
      for (const v of inputs) a.ReleaseValue(v);
    }
    keep.length = 0;
    const values = fetches.map((_, i) => koffi.decode(outputs, i * 8, 'void *'));
    const infos = values.map((v) => describe(a, v));
    if (infos.some((info) => !info || !TYPES[info.type])) {
      // A string, sequence or map output (or a type added after this table): the binding converts it.
      for (const v of values) a.ReleaseValue(v);
      return this.#runOnBinding(feeds, fetches);
    }
    const tensors = fetches.map((_, i) => outputTensor(a, values[i], infos[i]!));
    const bytes = tensors.reduce((sum, t) => sum + (t.data as ArrayBufferView).byteLength, 0);
    if (!this.#ranOnce) this.#afterFirstRun(bytes < SMALL_OUTPUT_BYTES * Math.max(1, tensors.length));
    return Object.fromEntries(fetches.map((name, i) => [name, tensors[i]]));
  }

  /**
   * A small model with small outputs moves to the binding; a large one lets go of the bytes the
   * binding's session would need (feed and output types are the model's: no later run needs it).
   */
  #afterFirstRun(smallOutputs: boolean): void {
    this.#ranOnce = true;
    if (this.small && smallOutputs) this.#onBinding = true;
    else if (!this.small) this.createFallback = undefined;
  }

  #runOnBinding(feeds: Record<string, Tensor>, fetches: readonly string[]): Promise<Record<string, Tensor>> {
    if (!this.#fallback && !this.createFallback)
      throw new Error('this run needs the binding, and its model bytes are gone');
    this.#fallback ??= this.createFallback!();
    return this.#fallback.then((s) => s.run(feeds, fetches) as Promise<Record<string, Tensor>>);
  }

  async release(): Promise<void> {
    if (this.handle) ortApi().ReleaseSession(this.handle);
    this.handle = null;
    await (await this.#fallback)?.release();
  }
}

function applyOptions(a: OrtApi, opts: unknown, o: InferenceSession.SessionOptions): void {
  if (o.intraOpNumThreads !== undefined) check(a.SetIntraOpNumThreads(opts, o.intraOpNumThreads));
  if (o.interOpNumThreads !== undefined) check(a.SetInterOpNumThreads(opts, o.interOpNumThreads));
  if (o.logSeverityLevel !== undefined) check(a.SetSessionLogSeverityLevel(opts, o.logSeverityLevel));
  const level = { disabled: 0, basic: 1, extended: 2, layout: 3, all: 99 }[o.graphOptimizationLevel ?? 'all'];
  check(a.SetSessionGraphOptimizationLevel(opts, level));
  const session = (o.extra as { session?: Record<string, string> } | undefined)?.session ?? {};
  for (const [k, v] of Object.entries(session)) check(a.AddSessionConfigEntry(opts, `session.${k}`, String(v)));
}

function inputValue(a: OrtApi, t: Tensor, keep: unknown[]): unknown {
  const type = ELEMENT_TYPE[t.type];
  if (type === undefined) throw new Error(`unsupported input type ${t.type}`);
  const data = t.data as ArrayBufferView;
  keep.push(data);
  const out = [null];
  const dims = BigInt64Array.from(t.dims, (d) => BigInt(d));
  check(a.CreateTensorWithDataAsOrtValue(cpuMemory, data, data.byteLength, dims, dims.length, type, out));
  return out[0];
}

interface ValueInfo {
  type: number;
  dims: number[];
}

/** Element type and shape of a tensor output; undefined for a sequence or map. */
function describe(a: OrtApi, value: unknown): ValueInfo | undefined {
  const out = [null];
  const status = a.GetTensorTypeAndShape(value, out);
  if (status) {
    a.ReleaseStatus(status);
    return undefined;
  }
  const info = out[0];
  try {
    const type = [0];
    const rank = [0];
    check(a.GetTensorElementType(info, type));
    check(a.GetDimensionsCount(info, rank));
    const dims = new BigInt64Array(rank[0]);
    if (rank[0]) check(a.GetDimensions(info, dims, rank[0]));
    return { type: type[0], dims: Array.from(dims, Number) };
  } finally {
    a.ReleaseTensorTypeAndShapeInfo(info);
  }
}

/** The output as a Tensor viewing ONNX Runtime's memory; the OrtValue lives as long as the view. */
function outputTensor(a: OrtApi, value: unknown, info: ValueInfo): Tensor {
  const [type, ArrayType] = TYPES[info.type];
  const bytes = info.dims.reduce((x, y) => x * y, 1) * ArrayType.BYTES_PER_ELEMENT;
  if (bytes === 0) {
    a.ReleaseValue(value);
    return new ort.Tensor(type, new ArrayType(new ArrayBuffer(0)) as Tensor.DataType, info.dims);
  }
  const ptr = [null];
  check(a.GetTensorMutableData(value, ptr));
  const buffer = koffi.view(ptr[0], bytes);
  released.register(buffer, value);
  return new ort.Tensor(type, new ArrayType(buffer) as Tensor.DataType, info.dims);
}
