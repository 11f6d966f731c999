/**
 * Flag scanning on top of citty. citty keeps only the last value of a repeated flag and accepts
 * unknown flags silently; `--input a --input b` and a typo such as `--layer` must not be lost
 * quietly, so each command reads its flags through `scanFlags`.
 */
import { defineCommand, type ArgsDef, type CommandDef } from 'citty';
import { nearestNames } from '../capture/glob.js';
import { NeurotapError } from '../errors.js';
import type { Reduction } from '../graph/rewrite.js';

export interface ScannedFlags {
  /** Every value given for each flag, in order, by its kebab-case name; booleans as 'true'/'false'. */
  readonly values: ReadonlyMap<string, readonly string[]>;
  readonly positionals: readonly string[];
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Flag name (and aliases) to [canonical name, takes a value]. */
function flagTable(defs: ArgsDef): Map<string, [string, boolean]> {
  const table = new Map<string, [string, boolean]>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'positional') continue;
    const entry: [string, boolean] = [kebab(name), def.type === 'string' || def.type === 'enum'];
    table.set(kebab(name), entry);
    for (const alias of ['alias' in def && def.alias ? def.alias : []].flat()) table.set(alias, entry);
  }
  return table;
}

function unknownFlag(flag: string, table: Map<string, [string, boolean]>, command: string): NeurotapError {
  const names = [...table.keys()].filter((n) => n.length > 1);
  const near = nearestNames(flag.replace(/^-+/, ''), names, 1).map((n) => `--${n}`);
  return new NeurotapError(
    'E_BAD_ARGUMENT',
    `Unknown option '${flag}' for neurotap ${command} (did you mean ${near.join(' or ')}?).`,
    {
      hint: `See \`neurotap ${command} --help\`.`,
    },
  );
}

/** Reads `--name value`, `--name=value`, `-n value`, `--flag`, `--no-flag` and positionals; `--` ends flags. */
export function scanFlags(rawArgs: readonly string[], defs: ArgsDef, command: string): ScannedFlags {
  const table = flagTable(defs);
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  const push = (name: string, value: string) => values.set(name, [...(values.get(name) ?? []), value]);
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i];
    if (arg === '--') {
      positionals.push(...rawArgs.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const raw = eq < 0 ? body : body.slice(0, eq);
    const negated = raw.startsWith('no-') && table.get(kebab(raw.slice(3)))?.[1] === false;
    const entry = table.get(negated ? kebab(raw.slice(3)) : arg.startsWith('--') ? kebab(raw) : raw);
    if (!entry) throw unknownFlag(arg, table, command);
    const [name, takesValue] = entry;
    if (!takesValue) {
      push(name, negated ? 'false' : eq < 0 ? 'true' : String(body.slice(eq + 1) !== 'false'));
      continue;
    }
    const value = eq >= 0 ? body.slice(eq + 1) : rawArgs[++i];
    if (value === undefined) {
      throw new NeurotapError('E_BAD_ARGUMENT', `Option --${name} needs a value.`, {
        hint: `See \`neurotap ${command} --help\`.`,
      });
    }
    push(name, value);
  }
  return { values, positionals };
}

/** The last value of a flag (a repeated single-valued flag keeps the last, as most CLIs do). */
export function lastValue(flags: ScannedFlags, name: string): string | undefined {
  const all = flags.values.get(name);
  return all?.[all.length - 1];
}

export function isSet(flags: ScannedFlags, name: string): boolean {
  return lastValue(flags, name) === 'true';
}

/** Rejects positionals beyond the ones a command takes (usually a forgotten `--input`). */
export function checkPositionals(flags: ScannedFlags, count: number, command: string, hint: string): void {
  const extra = flags.positionals.slice(count);
  if (extra.length) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => `'${a}'`).join(', ')} for neurotap ${command}.`,
      { hint },
    );
  }
}

export function parseInteger(text: string, flag: string, min: number): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected --${flag} to be an integer >= ${min}; got '${text}'.`, {
      hint: `E.g. --${flag} ${Math.max(min, 1)}.`,
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

/**
 * A subcommand whose flags are all read by scanFlags (repeated flags included, unknown ones refused)
 * and which takes at most one positional (a model or a store). `--debug` is added to every command.
 */
export function flagCommand(
  meta: { name: string; description: string },
  args: ArgsDef,
  extraArgumentHint: string,
  run: (positional: string | undefined, flags: ScannedFlags) => Promise<void>,
): CommandDef<ArgsDef> {
  const all: ArgsDef = { ...args, ...DEBUG_ARG };
  return defineCommand({
    meta,
    args: all,
    async run({ rawArgs }) {
      const flags = scanFlags(rawArgs, all, meta.name);
      checkPositionals(flags, 1, meta.name, extraArgumentHint);
      await run(flags.positionals[0], flags);
    },
  });
}

/** `--reduce mean` for every layer, `--reduce 'layer1.*=max'` per pattern (repeatable), for `extract` and `extract --inputs`. */
export function parseReduceFlags(values: readonly string[]): Reduction | Record<string, Reduction> | undefined {
  if (values.length === 0) return undefined;
  if (values.length === 1 && !values[0].includes('=')) return values[0] as Reduction; // the library checks the name
  const rules: Record<string, Reduction> = {};
  for (const value of values) {
    const eq = value.lastIndexOf('=');
    if (eq <= 0)
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected --reduce R or --reduce PATTERN=R; got '${value}' among several.`,
        { hint: "E.g. --reduce 'conv*=mean' --reduce fc1=none." },
      );
    rules[value.slice(0, eq)] = value.slice(eq + 1) as Reduction;
  }
  return rules;
}
