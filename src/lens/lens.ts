/**
 * The logit lens (nostalgebraist 2020): the model's final norm and LM head applied to every hidden
 * state, to read what each layer would predict. One capture gives the hidden states; one extra
 * session, the graph cut at the final norm's input (head.ts), runs them all at once, stacked on
 * axis 0, and returns the top-k tokens of each layer and position.
 *
 * Convention: row i is the residual stream after i blocks. HF's `hidden_states[L]` (and so the
 * `hidden_states` preset's last key) is the final norm's output for GPT-2-style models; the lens
 * reads the final norm's input in its place, so the norm is never applied twice, and the last row
 * is exactly the model's own prediction.
 *
 * ```ts
 * const lens = await model.lens({ input_ids }, { top: 3 });
 * lens.layers[0].top[0][2]; // [{ id: 464, prob: 0.21, token: ' The' }, …]: layer 0, batch 0, position 2
 * ```
 */
import type { ActivationCache } from '../capture/activation-cache.js';
import type { Feeds } from '../capture/feeds.js';
import type { LayerSpec, Selection, SelectOptions, Unobservable } from '../capture/select.js';
import { NeurotapError } from '../errors.js';
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleMap } from '../modules/module-map.js';
import { encodeModel } from '../onnx/codec.js';
import type { ModelProto } from '../onnx/types.js';
import type { InferenceSession, Runtime, Tensor } from '../runtime/runtime.js';
import { PromiseCache } from '../promise-cache.js';
import { releaseSessions } from '../runtime/session-options.js';
import { ONNX_DTYPE, sizeOf, type HostTensor, type TypedArray } from '../tensor.js';
import { findLensHead, type LensHead } from './head.js';
import { LENS_INPUT, LENS_OUTPUTS, LENS_SKIP, lensGraph } from './lens-graph.js';
import type { TokenVocab } from './tokenizer.js';

export interface LensOptions {
  /** The hidden states to read (default: the `hidden_states` preset); each [batch, seq, hidden]. */
  layers?: LayerSpec | readonly LayerSpec[];
  /** Tokens kept per layer and position (default 5). */
  top?: number;
  /** Also return each layer's float32 logits ([batch, seq, vocab]). */
  logits?: boolean;
  /** Token strings for the ids (parseTokenizer of a tokenizer.json). */
  vocab?: TokenVocab;
}

export interface LensToken {
  readonly id: number;
  /** Softmax probability (float32, computed in the graph). */
  readonly prob: number;
  readonly token?: string;
}

export interface LensLayer {
  /** The hidden state's key (`hidden_states.3`). */
  readonly key: string;
  /** What was fed to the head: the capture key, or for the normed last state the final norm's input. */
  readonly source: string;
  /** `top[b][s]`: the most likely tokens at batch item b, position s, most likely first. */
  readonly top: LensToken[][][];
  readonly logits?: HostTensor;
}

export interface LensResult {
  readonly norm: string;
  readonly head: string;
  readonly layers: LensLayer[];
  /** Hidden states asked for that the export does not hold, with the reason (no row for them). */
  readonly notObservable: Unobservable[];
}

/** What the lens needs from a loaded model (NeurotapModel provides it). */
export interface LensHost {
  readonly proto: ModelProto;
  readonly index: GraphIndex;
  readonly map: ModuleMap;
  readonly runtime: Runtime;
  plan(options: SelectOptions): Selection;
  capture(feeds: Feeds, options: SelectOptions): Promise<ActivationCache>;
  createSession(model: Uint8Array): Promise<InferenceSession>;
  runSession(
    session: InferenceSession,
    feeds: Record<string, Tensor>,
    fetches: string[],
  ): Promise<Record<string, Tensor>>;
}

interface State {
  readonly key: string;
  /** What the head is run on, as reported (`in:transformer.ln_f#0` for the normed last state). */
  readonly source: string;
  /** The capture keys it is read from: one state, or the two values a fused final norm adds. */
  readonly read: readonly string[];
}

const MAX_TOP = 1000;

/** One lens per model: the head found once, one session per graph variant. */
export class LogitLens {
  #head: LensHead | undefined;
  readonly #sessions = new PromiseCache<InferenceSession>();

  constructor(private readonly host: LensHost) {}

  get head(): LensHead {
    this.#head ??= findLensHead(this.host.map, this.host.index);
    return this.#head;
  }

  async run(feeds: Feeds, options: LensOptions = {}): Promise<LensResult> {
    const top = checkTop(options.top ?? 5);
    const specs = [options.layers ?? 'hidden_states'].flat() as LayerSpec[];
    const { states, notObservable } = this.#states(specs);
    // The normed state is read before the norm: values the specs do not capture themselves.
    const extra = [...new Set(states.filter((s) => s.source !== s.key).flatMap((s) => s.read))];
    const acts = await this.host.capture(feeds, { layers: [...specs, ...extra] });
    // Plain states go through LENS_INPUT stacked on axis 0; a fused norm's state through LENS_SKIP, last.
    const rows = states.filter((s) => s.read.length === 1);
    const skip = states.find((s) => s.read.length === 2);
    const stacked = rows.length
      ? stack(
          rows.map((s) => stateTensor(acts, s, s.read[0])),
          rows,
        )
      : undefined;
    const skipped = skip ? skip.read.map((k) => stateTensor(acts, skip, k)) : [];
    const first = stacked ? { type: stacked.type, dims: stateDims(stacked, rows.length) } : skipped[0];
    const feedsOut: Record<string, Tensor> = {};
    const tensor = (t: HostTensor) =>
      new this.host.runtime.Tensor(t.type as Tensor.Type, t.data as Tensor.DataType, t.dims);
    if (stacked) feedsOut[LENS_INPUT] = tensor(stacked);
    skipped.forEach((t, i) => {
      checkSame(t, first, skip!.key, states[0].key);
      feedsOut[LENS_SKIP[i]] = tensor(t);
    });
    const graph = {
      rank: first.dims.length,
      type: first.type,
      top,
      logits: options.logits === true,
      rows: !!stacked,
      skipRow: !!skip,
    };
    const session = await this.#session(graph);
    const fetch = [LENS_OUTPUTS.probs, LENS_OUTPUTS.ids, ...(options.logits ? [LENS_OUTPUTS.logits] : [])];
    const out = await this.host.runSession(session, feedsOut, fetch);
    const order = [...rows, ...(skip ? [skip] : [])];
    const per = sizeOf(first.dims.slice(0, -1));
    const layers = states.map((s) => {
      const i = order.indexOf(s);
      return {
        key: s.key,
        source: s.source,
        top: topTokens(out, i * per, first.dims, top, options.vocab),
        ...(options.logits ? { logits: slice(out[LENS_OUTPUTS.logits], i, order.length) } : {}),
      };
    });
    return { norm: this.head.norm, head: this.head.head, layers, notObservable };
  }

  /** The states in order; the final norm's output (HF's normed last state) is read before the norm. */
  #states(specs: LayerSpec[]): { states: State[]; notObservable: Unobservable[] } {
    const head = this.head;
    const plan = this.host.plan({ layers: specs });
    const targets = plan.targets.filter((t) => t.kind === 'output');
    if (targets.length === 0) {
      const why = plan.notObservable.slice(0, 3).map((u) => `${u.key} (${u.reason})`);
      throw why.length
        ? new NeurotapError('E_NOT_OBSERVABLE', `No hidden state asked for is observable: ${why.join('; ')}.`, {
            hint: 'Name values of the residual stream the export keeps in layers; model.valueNames() lists them.',
            details: { notObservable: plan.notObservable.map((u) => ({ key: u.key, reason: u.reason })) },
          })
        : new NeurotapError('E_BAD_ARGUMENT', 'The logit lens was given no hidden state to read.', {
            hint: 'Name the values to read in layers (default: the hidden_states preset).',
          });
    }
    const before = `in:${head.norm}#0`;
    const states = targets.map((t) => {
      if (t.value !== head.normed) return { key: t.key, source: t.key, read: [t.key] };
      return { key: t.key, source: before, read: head.skip ? head.skip.inputs : [head.stream!] };
    });
    return { states, notObservable: plan.notObservable };
  }

  #session(g: {
    rank: number;
    type: string;
    top: number;
    logits: boolean;
    rows: boolean;
    skipRow: boolean;
  }): Promise<InferenceSession> {
    const key = JSON.stringify(g);
    return this.#sessions.get(key, () => {
      const elemType = Number(Object.entries(ONNX_DTYPE).find(([, d]) => d === g.type)?.[0] ?? 1);
      const model = lensGraph(this.host.proto, this.host.index, this.head, { ...g, elemType });
      return this.host.createSession(encodeModel(model));
    });
  }

  async release(): Promise<void> {
    await releaseSessions(this.#sessions.take(), (session) => [session]);
  }
}

function checkTop(top: number): number {
  if (Number.isSafeInteger(top) && top >= 1 && top <= MAX_TOP) return top;
  throw new NeurotapError('E_BAD_ARGUMENT', `Expected top from 1 to ${MAX_TOP}; got ${top}.`, {
    hint: 'top is how many tokens to keep per layer and position, e.g. 5.',
  });
}

function stateTensor(acts: ActivationCache, state: State, key: string): HostTensor {
  const tensor = acts.get(key);
  if (tensor) return tensor as HostTensor;
  const why = acts.whyNotObservable(key) ?? acts.whyNotObservable(state.key);
  throw new NeurotapError(
    'E_NOT_OBSERVABLE',
    `The hidden state ${state.key} was not captured${why ? `: ${why}` : ''}.`,
    { hint: 'Pick hidden states the export keeps (neurotap layers MODEL lists them).' },
  );
}

/** The dims of one state out of n stacked on axis 0. */
function stateDims(stacked: HostTensor, n: number): number[] {
  return [stacked.dims[0] / n, ...stacked.dims.slice(1)];
}

function checkSame(
  t: { type: string; dims: readonly number[] },
  first: { type: string; dims: readonly number[] },
  key: string,
  firstKey: string,
): void {
  if (t.type === first.type && t.dims.length >= 2 && t.dims.join() === first.dims.join()) return;
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `The logit lens reads hidden states of one shape; ${key} is ${t.type} [${t.dims.join(', ')}], ${firstKey} ${first.type} [${first.dims.join(', ')}].`,
    { hint: 'Pass only the residual-stream values ([batch, seq, hidden]) in layers.' },
  );
}

/** The states concatenated on axis 0 (each [batch, seq, hidden] → [n * batch, seq, hidden]). */
function stack(tensors: readonly HostTensor[], states: readonly State[]): HostTensor {
  const first = tensors[0];
  tensors.forEach((t, i) => checkSame(t, first, states[i].key, states[0].key));
  const size = sizeOf(first.dims);
  const data = new (first.data.constructor as new (n: number) => TypedArray)(size * tensors.length);
  tensors.forEach((t, i) => (data as Float32Array).set(t.data as Float32Array, i * size));
  return { type: first.type, dims: [first.dims[0] * tensors.length, ...first.dims.slice(1)], data };
}

/** `top[b][s]` of one state: rows `start …` of the TopK outputs. */
function topTokens(
  out: Record<string, Tensor>,
  start: number,
  dims: readonly number[],
  k: number,
  vocab: TokenVocab | undefined,
): LensToken[][][] {
  const probs = out[LENS_OUTPUTS.probs].data as Float32Array;
  const ids = out[LENS_OUTPUTS.ids].data as BigInt64Array;
  const [batch, seq] = dims.length === 2 ? [1, dims[0]] : [dims[0], sizeOf(dims.slice(1, -1))];
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, s) =>
      Array.from({ length: k }, (_, j) => {
        const at = (start + b * seq + s) * k + j;
        const id = Number(ids[at]);
        const token = vocab?.token(id);
        return { id, prob: probs[at], ...(token !== undefined ? { token } : {}) };
      }),
    ),
  );
}

/** State i's logits out of the stacked [n * batch, …, vocab] tensor. */
function slice(logits: Tensor, i: number, n: number): HostTensor {
  const data = logits.data as Float32Array;
  const size = data.length / n;
  const dims = [logits.dims[0] / n, ...logits.dims.slice(1)];
  return { type: 'float32', dims, data: data.slice(i * size, (i + 1) * size) };
}
