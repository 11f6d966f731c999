/**
 * Terminal formatting for the CLI: ANSI styles only on a TTY (no colour dependency), aligned
 * columns, compact numbers and shapes.
 */

export interface Styles {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/** Styles for one stream: plain text when it is piped, or when NO_COLOR / TERM=dumb ask for it. */
export function stylesFor(stream: NodeJS.WriteStream): Styles {
  const on = stream.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
  const wrap = (open: number, close: number) => (text: string) =>
    on && text ? `\u001B[${open}m${text}\u001B[${close}m` : text;
  return { bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) };
}

const ANSI = /\u001B\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/**
 * Pads cells into columns (widths measured without ANSI codes, so styled cells still line up).
 * `right` lists the columns aligned right, such as numbers.
 */
export function formatColumns(rows: readonly (readonly string[])[], right: readonly number[] = []): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, stripAnsi(cell).length)));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i] - stripAnsi(cell).length);
        if (i === row.length - 1 && !right.includes(i)) return cell; // no trailing spaces
        return right.includes(i) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd(),
  );
}

/** Four significant-ish digits: fixed for ordinary magnitudes, exponent for tiny or huge ones. */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  return abs >= 1e5 || abs < 1e-3 ? x.toExponential(3) : x.toFixed(4);
}

export function formatShape(shape: readonly (number | string)[] | undefined): string {
  return shape ? `[${shape.join(', ')}]` : '?';
}
