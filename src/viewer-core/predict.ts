/**
 * What a classifier says: the softmax of sample 0 of an output shaped (N, K), top classes first.
 */
export interface ClassScore {
  readonly index: number;
  readonly logit: number;
  readonly probability: number;
}

/** Top-k classes of sample 0 for an output (N, K) with 2 <= K <= 1000, else undefined. */
export function topClasses(dims: readonly number[], values: ArrayLike<number>, k = 5): ClassScore[] | undefined {
  const classes = dims[dims.length - 1];
  if (dims.length !== 2 || !(classes >= 2 && classes <= 1000)) return undefined;
  let max = -Infinity;
  for (let i = 0; i < classes; i++) max = Math.max(max, values[i]);
  let total = 0;
  const exps = Array.from({ length: classes }, (_, i) => Math.exp(values[i] - max));
  for (const e of exps) total += e;
  const scores = exps.map((e, index) => ({ index, logit: values[index], probability: e / total }));
  return scores.sort((a, b) => b.logit - a.logit).slice(0, k);
}
