/**
 * `neurotap ARGS` in a child process, the two ways the tests run it: from the sources (tsx on
 * src/cli/main.ts through run-cli.ts, no build needed) and as users run it (bin/neurotap.js, which
 * runs the build in dist/: ensureBuilt makes it when a test file runs alone on a stale tree).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'neurotap.js');
const RUN_CLI = join(ROOT, 'test', 'helpers', 'run-cli.ts');
const DIST_MAIN = join(ROOT, 'dist', 'cli', 'main.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI from the sources (no build needed), with NO_COLOR and any extra environment variables. */
export function cliFromSource(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runNode(['--import', 'tsx', RUN_CLI, ...args], env);
}

/** The CLI as users run it: bin/neurotap.js on the build in dist/ (see ensureBuilt). */
export function cliFromBuild(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runNode([BIN, ...args], env);
}

/** cliFromBuild with `--json` appended: the exit code and stdout parsed (JSON results and errors alike). */
export async function cliJsonFromBuild(args: readonly string[]): Promise<{ code: number; body: any }> {
  const run = await cliFromBuild([...args, '--json']);
  return { code: run.code, body: JSON.parse(run.stdout) };
}

function runNode(argv: readonly string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      argv,
      { cwd: ROOT, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1', ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** Builds dist/ when it is missing or older than a source file (`npm test` builds it first, so then this does nothing). */
export function ensureBuilt(): void {
  if (existsSync(DIST_MAIN) && statSync(DIST_MAIN).mtimeMs >= newestSource(join(ROOT, 'src'))) return;
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')],
      { stdio: 'pipe' },
    );
  } catch (err) {
    // Type errors still emit JavaScript; only a missing build stops the tests.
    if (!existsSync(DIST_MAIN)) throw new Error(`tsc failed: ${(err as { stdout?: Buffer }).stdout?.toString()}`);
  }
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}
