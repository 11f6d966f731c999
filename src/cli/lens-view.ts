/**
 * What `neurotap lens` prints: per batch item and position, the input token and one line per
 * hidden state with its top tokens and their probabilities; or all of it as one JSON object.
 */
import type { LensResult, LensToken } from '../lens/lens.js';
import type { TokenVocab } from '../lens/tokenizer.js';
import type { HostTensor } from '../tensor.js';
import { formatColumns, type Styles } from './format.js';
import { notObservableLines } from './not-observable.js';

export interface LensView {
  readonly model: string;
  readonly result: LensResult;
  readonly top: number;
  /** Where the token strings came from; null without a tokenizer. */
  readonly tokenizer: string | null;
  /** The token ids fed, [batch][position], when an integer input of that shape is the text. */
  readonly input: { readonly name: string; readonly ids: number[][] } | null;
  readonly vocab?: TokenVocab;
}

/** The integer input holding the text's ids ([batch, seq], the lens's positions): input_ids, or the only such input. */
export function textInput(
  feeds: Readonly<Record<string, HostTensor>>,
  result: LensResult,
): { name: string; ids: number[][] } | null {
  const rows = result.layers[0]?.top ?? [];
  const [batch, seq] = [rows.length, rows[0]?.length ?? 0];
  const fits = (t: HostTensor) =>
    /^u?int(32|64)$/.test(t.type) && t.dims.length === 2 && t.dims[0] === batch && t.dims[1] === seq;
  const names = Object.keys(feeds).filter((n) => fits(feeds[n]));
  const name = names.includes('input_ids') ? 'input_ids' : names.length === 1 ? names[0] : undefined;
  if (name === undefined) return null;
  const data = Array.from(feeds[name].data as ArrayLike<number | bigint>, Number);
  return { name, ids: Array.from({ length: batch }, (_, b) => data.slice(b * seq, (b + 1) * seq)) };
}

function tokenText(id: number, vocab: TokenVocab | undefined): string {
  const token = vocab?.token(id);
  return token === undefined ? `${id}` : `${JSON.stringify(token)} (${id})`;
}

function cell(t: LensToken): string {
  const prob = t.prob >= 1e-3 || t.prob === 0 ? t.prob.toFixed(3) : t.prob.toExponential(1);
  return `${t.token === undefined ? t.id : `${JSON.stringify(t.token)} ${t.id}`} ${prob}`;
}

export function lensText(view: LensView, styles: Styles): string[] {
  const { result } = view;
  const lines = [
    `logit lens: ${result.head}(${result.norm}(h)) on ${result.layers.length} hidden states, top ${view.top} (id probability)${view.tokenizer ? `, tokens from ${view.tokenizer}` : ''}`,
  ];
  const normedLast = result.layers.find((l) => l.source !== l.key);
  if (normedLast)
    lines.push(
      `${normedLast.key} is read before ${result.norm} (${normedLast.source}): HF's last hidden state has ${result.norm} applied already`,
    );
  const rows = result.layers[0]?.top ?? [];
  rows.forEach((positions, b) => {
    positions.forEach((_, s) => {
      const id = view.input?.ids[b]?.[s];
      lines.push(`batch ${b}, position ${s}${id === undefined ? '' : `, input ${tokenText(id, view.vocab)}`}`);
      const table = result.layers.map((l) => [`  ${l.key}`, l.top[b][s].map(cell).join('   ')]);
      lines.push(...formatColumns(table));
    });
  });
  return [...lines, ...notObservableLines(result.notObservable, styles)];
}

export function lensJson(view: LensView): string {
  const { result } = view;
  return JSON.stringify({
    model: view.model,
    norm: result.norm,
    head: result.head,
    top: view.top,
    tokenizer: view.tokenizer,
    input: view.input && {
      ...view.input,
      ...(view.vocab ? { tokens: view.input.ids.map((row) => row.map((id) => view.vocab!.token(id) ?? null)) } : {}),
    },
    layers: result.layers.map((l) => ({ key: l.key, source: l.source, top: l.top })),
    notObservable: result.notObservable,
  });
}
