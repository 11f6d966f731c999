/**
 * How the CLI reports failure: one `error[CODE]: message` line and a `hint:` line on stderr (or
 * one JSON object on stdout with --json, so scripts parse a single stream), and an exit code that
 * separates mistakes in the invocation (2) from failures of the tool or the runtime (1).
 */
import { isNeurotapError } from '../errors.js';
import { stylesFor } from './format.js';

export interface ReportedError {
  code: string;
  message: string;
  hint: string | undefined;
  details?: Record<string, unknown>;
}

/** True when the flag is present (`--json`, `--json=true`) before any `--`. */
export function hasFlag(argv: readonly string[], name: string): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === `--${name}` || a === `--${name}=true`);
}

/** Library hints name their options; on the command line the same advice is a flag. */
const OPTION_FLAGS: [RegExp, string][] = [
  [/\bset overwrite: true\b/g, 'pass --overwrite'],
  [/\bthe s3 endpoint option\b/g, '--s3-endpoint'],
];

function asFlags(hint: string | undefined): string | undefined {
  return OPTION_FLAGS.reduce((text, [option, flag]) => text?.replace(option, flag), hint);
}

export function describeError(err: unknown): ReportedError {
  if (isNeurotapError(err)) {
    return {
      code: err.code,
      message: err.message,
      hint: asFlags(err.hint),
      ...(err.details ? { details: err.details } : {}),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    code: 'E_INTERNAL',
    message,
    hint: 'This is a bug in neurotap; rerun with --debug and report the stack trace.',
  };
}

/** 1 when the runtime or neurotap itself failed; 2 when the command line or its files were wrong. */
export function exitCodeFor(code: string): number {
  return code === 'E_RUNTIME' || code === 'E_INTERNAL' ? 1 : 2;
}

/** Prints the error as the flags ask and returns the process exit code. */
export function reportError(err: unknown, argv: readonly string[]): number {
  const info = describeError(err);
  if (hasFlag(argv, 'json')) {
    process.stdout.write(`${JSON.stringify({ error: info })}\n`);
  } else {
    const s = stylesFor(process.stderr);
    process.stderr.write(`${s.bold(s.red(`error[${info.code}]`))}: ${info.message}\n`);
    if (info.hint) process.stderr.write(`${s.cyan('hint')}: ${info.hint}\n`);
  }
  if (hasFlag(argv, 'debug')) process.stderr.write(`${stackOf(err)}\n`);
  return exitCodeFor(info.code);
}

function stackOf(err: unknown): string {
  const lines: string[] = [];
  for (let e = err, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    lines.push(`${depth ? 'caused by: ' : ''}${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  return lines.join('\n');
}

/** A `note:` line on stderr for things the user should know but that are not errors; silent with --json. */
export function note(text: string, json: boolean): void {
  if (json) return;
  const s = stylesFor(process.stderr);
  process.stderr.write(`${s.yellow('note')}: ${text}\n`);
}
