/**
 * Streaming per-neuron statistics for one key (isomorphic). A neuron is one index along the
 * neuron axis (a conv channel, a linear unit); its values are every element at that index, over
 * all other axes (spatial positions, time steps) and all items.
 *
 * - count, mean, std (population), min, max: over all those values. Each batch's moments are
 *   computed exactly in two passes, then merged into the running ones with Chan et al.'s
 *   parallel formula, which stays accurate where a naive sum of squares cancels.
 * - per item, the neuron's response is its maximum over the other axes: the item activates the
 *   neuron when that maximum is > 0, and top-k ranks items by it (ties keep the earlier item).
 * - NaN values are counted apart (`nan`) and left out of everything else: one NaN would otherwise
 *   make the mean NaN, and min/max comparisons silently skip it.
 */
import { toFloat32 } from '../tensor-summary.js';
import type { HostTensor } from '../tensor.js';

export interface NeuronSummary {
  index: number;
  /** Values that are not NaN (the statistics are over these), and the NaN values. */
  count: number;
  nan: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** Share of items whose response (max over the other axes) is > 0. */
  fractionActive: number;
  /** Items with the largest responses, largest first. */
  top: { id: string; value: number }[];
}

/** A kept item: its position in the data set, its id, and the neuron's response to it. */
export type KeptItem = [position: number, id: string, value: number];

/** A NeuronAccumulator's running sums as plain JSON, one entry per neuron in each list. */
export interface NeuronAccumulatorState {
  items: number;
  count: number[];
  nan: number[];
  mean: number[];
  m2: number[];
  min: (number | null)[];
  max: (number | null)[];
  active: number[];
  top: KeptItem[][];
}

export class NeuronAccumulator {
  readonly neurons: number;
  items = 0;
  readonly #count: Float64Array;
  readonly #nan: Float64Array;
  readonly #mean: Float64Array;
  readonly #m2: Float64Array;
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #active: Float64Array;
  readonly #topValue: Float64Array;
  /** Positions of the kept items in the data set: ties rank the earlier item first, across shards too. */
  readonly #topIndex: Float64Array;
  readonly #topItem: string[];
  readonly #topLength: Int32Array;

  /** `dims` of one batch's tensor [items, ...]; `axis` the neuron axis (>= 1); `topK` items kept per neuron. */
  constructor(
    readonly itemShape: readonly number[],
    readonly axis: number,
    readonly topK: number,
  ) {
    const c = itemShape[axis - 1];
    this.neurons = c;
    [this.#count, this.#nan, this.#mean, this.#m2, this.#active] = [0, 1, 2, 3, 4].map(() => new Float64Array(c));
    this.#min = new Float64Array(c).fill(Infinity);
    this.#max = new Float64Array(c).fill(-Infinity);
    this.#topValue = new Float64Array(c * topK);
    this.#topIndex = new Float64Array(c * topK);
    this.#topItem = new Array<string>(c * topK);
    this.#topLength = new Int32Array(c);
  }

  /** Adds one batch: `t` is [n, ...itemShape], `ids` names its n items, the first at position `start` of the data set. */
  add(t: HostTensor, ids: readonly string[], start = this.items): void {
    const data = toFloat32(t);
    const n = ids.length;
    const c = this.neurons;
    const pre = this.itemShape.slice(0, this.axis - 1).reduce((a, b) => a * b, 1);
    const inner = this.itemShape.slice(this.axis).reduce((a, b) => a * b, 1);
    const sum = new Float64Array(c);
    const valid = new Float64Array(c);
    const min = new Float64Array(c).fill(Infinity);
    const max = new Float64Array(c).fill(-Infinity);
    const itemMax = new Float64Array(n * c).fill(-Infinity);
    for (let o = 0; o < n * pre; o++) {
      const item = Math.floor(o / pre);
      for (let j = 0; j < c; j++) {
        const base = (o * c + j) * inner;
        for (let i = 0; i < inner; i++) {
          const v = data[base + i];
          if (Number.isNaN(v)) {
            this.#nan[j]++;
            continue;
          }
          valid[j]++;
          sum[j] += v;
          if (v < min[j]) min[j] = v;
          if (v > max[j]) max[j] = v;
          if (v > itemMax[item * c + j]) itemMax[item * c + j] = v;
        }
      }
    }
    const m2 = this.#batchM2(data, sum, valid, n * pre, inner);
    for (let j = 0; j < c; j++) if (valid[j] > 0) this.#merge(j, valid[j], sum[j] / valid[j], m2[j], min[j], max[j]);
    for (let item = 0; item < n; item++) {
      // An item whose values are all NaN has no response: neither active nor ranked.
      for (let j = 0; j < c; j++)
        if (itemMax[item * c + j] !== -Infinity) this.#addResponse(j, itemMax[item * c + j], start + item, ids[item]);
    }
    this.items += n;
  }

  /** Second pass over the batch: squared deviations from each neuron's batch mean. */
  #batchM2(data: Float32Array, sum: Float64Array, valid: Float64Array, outer: number, inner: number): Float64Array {
    const c = this.neurons;
    const m2 = new Float64Array(c);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < c; j++) {
        const mean = sum[j] / valid[j];
        const base = (o * c + j) * inner;
        for (let i = 0; i < inner; i++) {
          const v = data[base + i];
          if (!Number.isNaN(v)) m2[j] += (v - mean) ** 2;
        }
      }
    }
    return m2;
  }

  /** Chan, Golub and LeVeque: combines (count, mean, M2) of the running set with a batch's. */
  #merge(j: number, nB: number, meanB: number, m2B: number, minB: number, maxB: number): void {
    const nA = this.#count[j];
    const n = nA + nB;
    const delta = meanB - this.#mean[j];
    this.#mean[j] += (delta * nB) / n;
    this.#m2[j] += m2B + (delta * delta * nA * nB) / n;
    this.#count[j] = n;
    if (minB < this.#min[j]) this.#min[j] = minB;
    if (maxB > this.#max[j]) this.#max[j] = maxB;
  }

  #addResponse(j: number, value: number, position: number, id: string): void {
    if (value > 0) this.#active[j]++;
    const k = this.topK;
    let len = this.#topLength[j];
    if (k === 0 || (len === k && !(value > this.#topValue[j * k + len - 1]))) return;
    if (len < k) this.#topLength[j] = ++len;
    let pos = len - 1;
    // Insertion into the neuron's sorted list: k is small, so shifting beats a heap.
    while (pos > 0 && value > this.#topValue[j * k + pos - 1]) {
      this.#topValue[j * k + pos] = this.#topValue[j * k + pos - 1];
      this.#topItem[j * k + pos] = this.#topItem[j * k + pos - 1];
      this.#topIndex[j * k + pos] = this.#topIndex[j * k + pos - 1];
      pos--;
    }
    this.#topValue[j * k + pos] = value;
    this.#topItem[j * k + pos] = id;
    this.#topIndex[j * k + pos] = position;
  }

  /** The running sums as plain JSON (float64 numbers round-trip exactly; an empty min/max is null). */
  state(): NeuronAccumulatorState {
    const list = (a: Float64Array) => Array.from(a);
    const bound = (a: Float64Array) => Array.from(a, (v) => (Number.isFinite(v) ? v : null));
    return {
      items: this.items,
      count: list(this.#count),
      nan: list(this.#nan),
      mean: list(this.#mean),
      m2: list(this.#m2),
      min: bound(this.#min),
      max: bound(this.#max),
      active: list(this.#active),
      top: Array.from({ length: this.neurons }, (_, j) => this.#kept(j)),
    };
  }

  /** An accumulator holding `state` (as `state()` gave it; the caller checked its lengths). */
  static fromState(
    itemShape: readonly number[],
    axis: number,
    topK: number,
    state: NeuronAccumulatorState,
  ): NeuronAccumulator {
    const acc = new NeuronAccumulator(itemShape, axis, topK);
    acc.items = state.items;
    acc.#count.set(state.count);
    acc.#nan.set(state.nan);
    acc.#mean.set(state.mean);
    acc.#m2.set(state.m2);
    acc.#min.set(state.min.map((v) => v ?? Infinity));
    acc.#max.set(state.max.map((v) => v ?? -Infinity));
    acc.#active.set(state.active);
    state.top.forEach((kept, j) => acc.#setKept(j, kept));
    return acc;
  }

  /**
   * Adds the statistics of other items (another shard): counts, NaNs, min/max and active counts
   * add up exactly, (count, mean, M2) combine by Chan et al.'s formula as batches do, and the
   * kept items are the top k of both lists (ties: the earlier item), as one pass would keep.
   */
  merge(other: NeuronAccumulator): void {
    for (let j = 0; j < this.neurons; j++) {
      this.#nan[j] += other.#nan[j];
      this.#active[j] += other.#active[j];
      if (other.#count[j] > 0)
        this.#merge(j, other.#count[j], other.#mean[j], other.#m2[j], other.#min[j], other.#max[j]);
      const kept = [...this.#kept(j), ...other.#kept(j)].sort((a, b) => b[2] - a[2] || a[0] - b[0]);
      this.#setKept(j, kept.slice(0, this.topK));
    }
    this.items += other.items;
  }

  /** Neuron j's kept items, largest first: [position, id, response]. */
  #kept(j: number): KeptItem[] {
    const k = this.topK;
    return Array.from(
      { length: this.#topLength[j] },
      (_, r): KeptItem => [this.#topIndex[j * k + r], this.#topItem[j * k + r], this.#topValue[j * k + r]],
    );
  }

  #setKept(j: number, kept: readonly KeptItem[]): void {
    const k = this.topK;
    this.#topLength[j] = kept.length;
    kept.forEach(([position, id, value], r) => {
      this.#topIndex[j * k + r] = position;
      this.#topItem[j * k + r] = id;
      this.#topValue[j * k + r] = value;
    });
  }

  summary(): NeuronSummary[] {
    return Array.from({ length: this.neurons }, (_, j) => ({
      index: j,
      count: this.#count[j],
      nan: this.#nan[j],
      // No value but NaN: nothing to summarise (not Infinity / -Infinity).
      mean: this.#count[j] ? this.#mean[j] : NaN,
      std: this.#count[j] ? Math.sqrt(this.#m2[j] / this.#count[j]) : NaN,
      min: this.#count[j] ? this.#min[j] : NaN,
      max: this.#count[j] ? this.#max[j] : NaN,
      fractionActive: this.items ? this.#active[j] / this.items : 0,
      top: Array.from({ length: this.#topLength[j] }, (_, r) => ({
        id: this.#topItem[j * this.topK + r],
        value: this.#topValue[j * this.topK + r],
      })),
    }));
  }
}
