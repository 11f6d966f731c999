/**
 * The `neurotap` command. Subcommands load lazily so that `--help` never starts onnxruntime,
 * and this is the only place that decides the exit code (the library never exits the process).
 *
 * ```sh
 * neurotap layers model.onnx
 * neurotap extract model.onnx --input x.npy --layers 'layer1.*' --out acts.npz
 * ```
 */
import { defineCommand, renderUsage, type CommandDef } from 'citty';
import { nearestNames } from '../capture/glob.js';
import { NeurotapError } from '../errors.js';
import type { FlagCommand } from './argv.js';
import { stripAnsi } from './format.js';
import { packageVersion } from '../node/package-version.js';
import { reportError } from './print-error.js';

const subCommands = {
  layers: () => import('./commands/layers.js').then((m) => m.default),
  extract: () => import('./commands/extract.js').then((m) => m.default),
  view: () => import('./commands/view.js').then((m) => m.default),
  report: () => import('./commands/report.js').then((m) => m.default),
  stats: () => import('./commands/stats.js').then((m) => m.default),
  verify: () => import('./commands/verify.js').then((m) => m.default),
  ls: () => import('./commands/ls.js').then((m) => m.default),
  compare: () => import('./commands/compare.js').then((m) => m.default),
  'torch-helper': () => import('./commands/torch-helper.js').then((m) => m.default),
  lens: () => import('./commands/lens.js').then((m) => m.default),
} satisfies Record<string, () => Promise<FlagCommand>>;

export const root = defineCommand({
  meta: {
    name: 'neurotap',
    version: packageVersion(),
    description:
      'Capture the activation of every hidden layer of a PyTorch model exported to ONNX, keyed by PyTorch module names',
  },
  subCommands: subCommands as Record<string, () => Promise<CommandDef>>,
});

/** The subcommand named by the first argument; citty only renders usage, the commands parse their own flags. */
async function loadCommand(name: string | undefined): Promise<FlagCommand> {
  if (name !== undefined && Object.hasOwn(subCommands, name)) return subCommands[name as keyof typeof subCommands]();
  const names = Object.keys(subCommands);
  const near = name === undefined ? [] : nearestNames(name, names, 1);
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `Unknown command '${name ?? ''}'${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}.`,
    { hint: `The commands are ${names.join(', ')}; see \`neurotap --help\`.` },
  );
}

/** Usage of the subcommand named first on the line, else of the root. */
async function printUsage(argv: readonly string[]): Promise<void> {
  const [name, subName] = argv.filter((a) => !a.startsWith('-'));
  const load = name && Object.hasOwn(subCommands, name) ? subCommands[name as keyof typeof subCommands] : undefined;
  const command: CommandDef | undefined = load ? await load() : undefined;
  // A command's own subcommand (`stats merge`): its usage, under its parent.
  const subs = (command?.subCommands ?? {}) as Record<string, () => Promise<CommandDef>>;
  const sub = subName && Object.hasOwn(subs, subName) ? await subs[subName]() : undefined;
  const text = sub
    ? await renderUsage(sub, command)
    : command
      ? await renderUsage(command, root as CommandDef)
      : await renderUsage(root as CommandDef);
  // citty colours its usage even into a pipe or file; keep the codes for terminals only.
  process.stdout.write(`${process.stdout.isTTY ? text : stripAnsi(text)}\n`);
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code for the process. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const flags = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length);
  if (argv.length === 0 || flags.includes('--help') || flags.includes('-h')) {
    await printUsage(flags);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  try {
    const [name, ...rest] = argv;
    return (await (await loadCommand(name)).runWith(rest)) ?? 0;
  } catch (err) {
    return reportError(err, argv);
  }
}
