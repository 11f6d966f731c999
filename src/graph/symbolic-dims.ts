/**
 * Symbolic dimensions of declared input shapes. Exporters name them (`batch`, `seq`) and the dynamo
 * exporter also writes expressions such as `s16 + s17`, so a size comes from `--dim` values by
 * evaluating the expression rather than by asking the user for every derived size.
 */
import { NeurotapError } from '../errors.js';

const TOKEN = /\s*(\d+|[A-Za-z_][A-Za-z0-9_.]*|\/\/|[-+*/()])/y;

function tokenize(text: string): string[] | undefined {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const start = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (!match) return text.slice(start).trim() === '' ? tokens : undefined;
    tokens.push(match[1]);
  }
  return tokens;
}

const isName = (t: string) => /^[A-Za-z_]/.test(t);

/** The names a dimension depends on: the identifiers of an expression, or the whole text if it is no expression. */
export function symbolsOf(dim: string): string[] {
  const tokens = tokenize(dim);
  return tokens ? [...new Set(tokens.filter(isName))] : [dim];
}

/** Integer value of a dimension given sizes for its names; + - * / // and parentheses (division floors, as in sympy's floor). */
export function evaluateDim(dim: string, sizes: ReadonlyMap<string, number>): number {
  if (sizes.has(dim)) return sizes.get(dim)!;
  const tokens = tokenize(dim) ?? [];
  let pos = 0;
  const fail = () =>
    new NeurotapError(
      'E_BAD_ARGUMENT',
      `Cannot compute the dimension '${dim}' from the sizes given (${[...sizes.keys()].join(', ') || 'none'}).`,
      {
        hint: `Give a size for '${dim}' itself, or give the input as data instead of generating it.`,
      },
    );
  const atom = (): number => {
    const t = tokens[pos++];
    if (t === '(') {
      const v = sum();
      if (tokens[pos++] !== ')') throw fail();
      return v;
    }
    if (t === '-') return -atom();
    if (t !== undefined && /^\d+$/.test(t)) return Number(t);
    if (t !== undefined && sizes.has(t)) return sizes.get(t)!;
    throw fail();
  };
  const product = (): number => {
    let v = atom();
    while (['*', '/', '//'].includes(tokens[pos])) v = tokens[pos++] === '*' ? v * atom() : Math.floor(v / atom());
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (tokens[pos] === '+' || tokens[pos] === '-') v = tokens[pos++] === '+' ? v + product() : v - product();
    return v;
  };
  const value = sum();
  if (pos !== tokens.length || !Number.isSafeInteger(value) || value < 0) throw fail();
  return value;
}

/** Names that mean a batch size: they default to 1 when no size is given for them. */
export function isBatchName(name: string): boolean {
  return /batch/i.test(name);
}
