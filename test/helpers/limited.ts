/**
 * Running a hostile case in a child process under a memory limit, so that a regression (a zip bomb
 * inflating, a lying header allocating) fails the test instead of taking the machine down. The
 * limit is `ulimit -d` (RLIMIT_DATA: the heap, array buffers, every writable private mapping)
 * rather than `-v`: V8 reserves many GB of address space for WebAssembly that it never touches,
 * which `-v` counts and `-d` does not. The child is `node --import tsx` on a script of this repository.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
/** Enough for the CLI with ONNX Runtime on a small model; far below what the hostile cases would take. */
export const DEFAULT_LIMIT_MB = 1000;

export interface LimitedRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx SCRIPT ARGS...` (paths relative to the repository) with at most `limitMb` of data memory. */
export function runLimited(script: string, args: readonly string[], limitMb = DEFAULT_LIMIT_MB): Promise<LimitedRun> {
  const quoted = [process.execPath, '--import', 'tsx', join(ROOT, script), ...args].map(
    (a) => `'${a.replace(/'/g, `'\\''`)}'`,
  );
  return new Promise((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', `ulimit -d ${limitMb * 1024} && exec ${quoted.join(' ')}`],
      { cwd: ROOT, maxBuffer: 16 << 20, timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}
