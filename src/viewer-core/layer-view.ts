/**
 * How a value is drawn, from its shape alone: feature maps for (N, C, H, W), units for (N, F),
 * a time x unit heatmap for (N, T, F). Only the first sample of a batch is drawn.
 *
 * ```ts
 * viewOf([1, 16, 8, 8]); // { kind: 'maps', batch: 1, channels: 16, rows: 8, cols: 8, sampleSize: 1024 }
 * ```
 */
export type ViewKind = 'maps' | 'units' | 'sequence';

export interface LayerView {
  readonly kind: ViewKind;
  /** Size of the first axis; only sample 0 is drawn. */
  readonly batch: number;
  /** Feature maps: C; units and sequences: 1. */
  readonly channels: number;
  /** Feature maps: H; sequences: T; units: 1. */
  readonly rows: number;
  /** Feature maps: W; sequences and units: F. */
  readonly cols: number;
  /** Elements in one sample: channels * rows * cols. */
  readonly sampleSize: number;
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function view(kind: ViewKind, batch: number, channels: number, rows: number, cols: number): LayerView {
  return { kind, batch, channels, rows, cols, sampleSize: channels * rows * cols };
}

/** The view for a value of these dims; rank 5 and above fold the middle axes into the rows of each map. */
export function viewOf(dims: readonly number[]): LayerView {
  const [n, c, h, w] = dims;
  switch (dims.length) {
    case 0:
      return view('units', 1, 1, 1, 1);
    case 1:
      return view('units', 1, 1, 1, n);
    case 2:
      return view('units', n, 1, 1, c);
    case 3:
      return view('sequence', n, 1, c, h);
    case 4:
      return h * w === 1 ? view('units', n, 1, 1, c) : view('maps', n, c, h, w);
    default:
      return view('maps', n, c, product(dims.slice(2, -1)), dims[dims.length - 1]);
  }
}

/** The position of flat element `index` in a tensor of these dims, e.g. [0, 3, 5, 2]. */
export function unravel(index: number, dims: readonly number[]): number[] {
  const position = new Array<number>(dims.length).fill(0);
  let rest = index;
  for (let axis = dims.length - 1; axis >= 0; axis--) {
    position[axis] = rest % dims[axis];
    rest = Math.floor(rest / dims[axis]);
  }
  return position;
}
