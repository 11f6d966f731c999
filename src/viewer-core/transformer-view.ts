/**
 * A transformer's pictures: the hidden states as a layer × token heatmap of per-token L2 norms
 * (how large the residual stream grows, layer by layer), and each layer's attention probabilities
 * as a grid of small query × key heatmaps, one per head. Sample 0 of the batch, as elsewhere in
 * the viewer. Pure: the worker computes them, the page and tests read the same numbers.
 *
 * ```ts
 * const norms = tokenNorms(states);      // { layers: ['hidden_states.0', …], tokens: 8, values }
 * const heads = headGrid(attentions[0]); // { key: 'attentions.0', heads: 4, queries: 8, keys: 8, values }
 * ```
 */
import type { MatrixGrid } from './matrix-grid.js';

/** What the functions read from a captured value (LayerData has it). */
export interface DrawnValue {
  readonly key: string;
  readonly dims: readonly number[];
  readonly values: ArrayLike<number>;
}

export interface TokenNorms {
  /** The hidden states, one heatmap row each. */
  readonly layers: string[];
  readonly tokens: number;
  /** Row-major layers × tokens: ‖h[0, t, :]‖₂ of each state. */
  readonly values: Float32Array;
}

export interface HeadGrid {
  readonly key: string;
  readonly heads: number;
  readonly queries: number;
  readonly keys: number;
  /** Sample 0: heads × queries × keys probabilities. */
  readonly values: Float32Array;
}

/** Per-token L2 norms of hidden states [batch, seq, hidden] (all of one seq length), sample 0. */
export function tokenNorms(states: readonly DrawnValue[]): TokenNorms {
  const tokens = states[0]?.dims[1] ?? 0;
  const values = new Float32Array(states.length * tokens);
  states.forEach((state, row) => {
    const [, seq, hidden] = state.dims;
    if (state.dims.length !== 3 || seq !== tokens)
      throw new Error(`${state.key} is [${state.dims.join(', ')}]; hidden states are [batch, ${tokens}, hidden].`);
    for (let t = 0; t < tokens; t++) {
      let sum = 0;
      for (let h = 0; h < hidden; h++) sum += state.values[t * hidden + h] ** 2;
      values[row * tokens + t] = Math.sqrt(sum);
    }
  });
  return { layers: states.map((s) => s.key), tokens, values };
}

/** The head grid of attention probabilities [batch, heads, queries, keys], sample 0. */
export function headGrid(attention: DrawnValue): HeadGrid {
  const [, heads, queries, keys] = attention.dims;
  if (attention.dims.length !== 4)
    throw new Error(`${attention.key} is [${attention.dims.join(', ')}]; attentions are [batch, heads, query, key].`);
  const values = Float32Array.from({ length: heads * queries * keys }, (_, i) => attention.values[i]);
  return { key: attention.key, heads, queries, keys, values };
}

/** Pixels per cell: cells of at most `most` px, at least 1, the whole in `room`. */
function cell(n: number, room: number, most: number): number {
  return Math.max(1, Math.min(most, Math.floor(room / Math.max(1, n))));
}

/** The norms heatmap as a matrix grid: one matrix, layers as rows, tokens as columns. */
export function normsLayout(norms: TokenNorms, maxWidth: number): MatrixGrid {
  const size = cell(norms.tokens, maxWidth, 28);
  return {
    count: 1,
    rows: norms.layers.length,
    cols: norms.tokens,
    limit: norms.values.length,
    tileWidth: norms.tokens * size,
    tileHeight: norms.layers.length * Math.min(size, 20),
    perRow: 1,
    gap: 0,
  };
}

/** One layer's heads side by side (wrapping when they do not fit), each queries × keys. */
export function headsLayout(grid: HeadGrid, maxWidth: number): MatrixGrid {
  const gap = 4;
  const size = cell(grid.keys, 96, 12);
  const tileWidth = grid.keys * size;
  const perRow = Math.max(1, Math.min(grid.heads, Math.floor((maxWidth + gap) / (tileWidth + gap))));
  return {
    count: grid.heads,
    rows: grid.queries,
    cols: grid.keys,
    limit: grid.values.length,
    tileWidth,
    tileHeight: grid.queries * size,
    perRow,
    gap,
  };
}
