/**
 * The CLI's one argument parser: node:util `parseArgs`, driven by each command's citty `ArgsDef`
 * (citty only renders `--help` and lists the commands; it parses nothing). Every value of a
 * repeated flag is kept (`--input a --input b`) and an unknown flag is refused with the nearest
 * known names, so a typo such as `--layer` is never lost quietly.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defineCommand, type ArgsDef, type CommandDef } from 'citty';
import { nearestNames } from '../capture/glob.js';
import { NeurotapError } from '../errors.js';

export interface ScannedFlags {
  /** Every value given for each flag, in order, by its kebab-case name; booleans as 'true'/'false'. */
  readonly values: ReadonlyMap<string, readonly string[]>;
  readonly positionals: readonly string[];
}

type Options = NonNullable<ParseArgsConfig['options']>;

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** parseArgs options from citty definitions: every flag repeatable, one-letter aliases as short flags. */
function parseOptions(defs: ArgsDef): Options {
  const options: Options = {};
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'positional') continue;
    const short = ['alias' in def && def.alias ? def.alias : []].flat().find((a) => a.length === 1);
    options[kebab(name)] = {
      type: def.type === 'boolean' ? 'boolean' : 'string',
      multiple: true,
      ...(short ? { short } : {}),
    };
  }
  return options;
}

/**
 * parseArgs refuses `--axis -1` as ambiguous (the value looks like a flag); a negative number
 * after a flag that takes a value is that value, so it is attached as `--axis=-1`.
 */
function attachNegativeNumbers(rawArgs: readonly string[], options: Options): string[] {
  const takesValue = (arg: string) => {
    const long = /^--([^=]+)$/.exec(arg)?.[1];
    const short = /^-([^-])$/.exec(arg)?.[1];
    const name = long ?? Object.keys(options).find((n) => short !== undefined && options[n].short === short);
    return name !== undefined && options[name]?.type === 'string' ? `--${name}` : undefined;
  };
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const flag = rawArgs[i] === '--' ? undefined : takesValue(rawArgs[i]);
    if (flag && /^-\d|^-\.\d/.test(rawArgs[i + 1] ?? '')) out.push(`${flag}=${rawArgs[++i]}`);
    else out.push(rawArgs[i]);
    if (rawArgs[i] === '--') return [...out, ...rawArgs.slice(i + 1)];
  }
  return out;
}

function usageError(err: unknown, options: Options, command: string): NeurotapError {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  const hint = `See \`neurotap ${command} --help\`.`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? message;
    const near = nearestNames(flag.replace(/^-+/, ''), Object.keys(options), 1).map((n) => `--${n}`);
    const guess = near.length ? ` (did you mean ${near.join(' or ')}?)` : '';
    return new NeurotapError('E_BAD_ARGUMENT', `Unknown option '${flag}' for neurotap ${command}${guess}.`, { hint });
  }
  // Node's own wording names the flag and what is wrong: a missing value, a value for a switch.
  return new NeurotapError('E_BAD_ARGUMENT', `${message.split('. To specify')[0]} (neurotap ${command}).`, {
    hint,
    cause: err,
  });
}

/** Reads `--name value`, `--name=value`, `-n value`, `--flag`, `--no-flag` and positionals; `--` ends flags. */
export function scanFlags(rawArgs: readonly string[], defs: ArgsDef, command: string): ScannedFlags {
  const options = parseOptions(defs);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: attachNegativeNumbers(rawArgs, options),
      options,
      strict: true,
      allowPositionals: true,
      allowNegative: true,
    });
  } catch (err) {
    throw usageError(err, options, command);
  }
  const values = new Map<string, string[]>();
  for (const [name, given] of Object.entries(parsed.values)) values.set(name, [given ?? []].flat().map(String));
  return { values, positionals: parsed.positionals };
}

/** The last value of a flag (a repeated single-valued flag keeps the last, as most CLIs do). */
export function lastValue(flags: ScannedFlags, name: string): string | undefined {
  const all = flags.values.get(name);
  return all?.[all.length - 1];
}

export function isSet(flags: ScannedFlags, name: string): boolean {
  return lastValue(flags, name) === 'true';
}

/** Rejects a missing required positional, and positionals beyond the one a command takes (usually a forgotten `--input`). */
function checkPositionals(flags: ScannedFlags, defs: ArgsDef, command: string, hint: string): void {
  const [name, def] = Object.entries(defs).find(([, d]) => d.type === 'positional') ?? [];
  if (name && def && 'required' in def && def.required && flags.positionals.length === 0) {
    throw new NeurotapError('E_BAD_ARGUMENT', `neurotap ${command} needs ${name.toUpperCase()}.`, {
      hint: `${def.description ?? name}; see \`neurotap ${command} --help\`.`,
    });
  }
  const extra = flags.positionals.slice(1);
  if (extra.length) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => `'${a}'`).join(', ')} for neurotap ${command}.`,
      { hint },
    );
  }
}

/** An integer flag within [min, max]: every numeric flag has a sane range, so none can ask for 2^40 of anything. */
export function parseInteger(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected --${flag} to be an integer ${range}; got '${text}'.`, {
      hint: `E.g. --${flag} ${Math.max(min, 1)}.`,
      details: { flag, min, max, given: text },
    });
  }
  return n;
}

/** A comma-separated list of finite numbers, such as `--mean 0.485,0.456,0.406`. */
export function parseNumberList(text: string, flag: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const numbers = parts.map(Number);
  if (parts.some((p) => p === '') || numbers.some((n) => !Number.isFinite(n))) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected --${flag} as comma-separated numbers; got '${text}'.`, {
      hint: `E.g. --${flag} 0.5,0.5,0.5.`,
    });
  }
  return numbers;
}

const DEBUG_ARG = { debug: { type: 'boolean', description: 'Print stack traces with errors' } } satisfies ArgsDef;

/** A subcommand: its flags for `--help`, and the run that parses them (`main` calls it with the raw arguments). */
export interface FlagCommand extends CommandDef<ArgsDef> {
  /** Resolves to the exit code, or nothing for 0 (compare exits 3 when keys diverge). */
  runWith(rawArgs: readonly string[]): Promise<void | number>;
}

/**
 * A subcommand whose flags are all read by scanFlags (repeated flags included, unknown ones refused)
 * and which takes at most one positional (a model or a store). `--debug` is added to every command.
 */
export function flagCommand(
  meta: { name: string; description: string },
  args: ArgsDef,
  extraArgumentHint: string,
  run: (positional: string | undefined, flags: ScannedFlags) => Promise<void>,
): FlagCommand {
  const all: ArgsDef = { ...args, ...DEBUG_ARG };
  const runWith = async (rawArgs: readonly string[]) => {
    const flags = scanFlags(rawArgs, all, meta.name);
    checkPositionals(flags, all, meta.name, extraArgumentHint);
    await run(flags.positionals[0], flags);
  };
  return { ...defineCommand({ meta, args: all }), runWith };
}
