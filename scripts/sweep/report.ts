/**
 * Compares every sweep case (written by scripts/sweep/sweep.py) with `neurotap compare --json` and
 * sorts what it finds into the defects the fidelity law names:
 *   WRONG     a key whose tensor differs from PyTorch's hook output (the worst defect);
 *   INVENTED  a key neurotap returns that PyTorch's hooks never produced (not a module, a call or a
 *             tuple element PyTorch did not make);
 *   SILENT    a PyTorch key missing without a reason (not reported not observable);
 * and counts the keys reported not observable with a reason (acceptable, but listed with --verbose).
 *
 *   node --import tsx scripts/sweep/report.ts [--out DIR] [--verbose] [--json] [NAME-or-GLOB ...]
 * Exit 1 when any case has a WRONG, INVENTED or SILENT key.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = new URL('./cli.ts', import.meta.url).pathname;

interface KeyRow {
  key: string;
  ok: boolean;
  shapeA: number[];
  shapeB: number[];
  maxAbs: number | null;
  cosine: number | null;
}
interface Unmatched {
  key: string;
  reason: string;
}
interface Comparison {
  keys: KeyRow[];
  unmatched: { a: Unmatched[]; b: Unmatched[] };
}
export interface CaseResult {
  name: string;
  error?: string;
  keys: number;
  wrong: KeyRow[];
  invented: Unmatched[];
  silent: Unmatched[];
  reported: Unmatched[];
}

function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv.splice(i, 2)[1] : undefined;
}

function flag(argv: string[], name: string): boolean {
  const i = argv.indexOf(name);
  if (i >= 0) argv.splice(i, 1);
  return i >= 0;
}

function matches(name: string, patterns: string[]): boolean {
  const re = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return patterns.length === 0 || patterns.some((p) => re(p).test(name));
}

async function compareCase(dir: string, name: string): Promise<CaseResult> {
  const folder = join(dir, name);
  const argv = [cli, 'compare', join(folder, 'model.onnx'), join(folder, 'reference.npz')];
  argv.push('--input', join(folder, 'input.npz'), '--json');
  const result: CaseResult = { name, keys: 0, wrong: [], invented: [], silent: [], reported: [] };
  let stdout: string;
  try {
    stdout = (await run(process.execPath, ['--import', 'tsx', ...argv], { maxBuffer: 1 << 28 })).stdout;
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (err.code !== 3 || !err.stdout) {
      result.error = (err.stderr || String(e)).trim().split('\n').slice(-3).join(' ');
      return result;
    }
    stdout = err.stdout; // exit 3: compared, some key over tolerance
  }
  const c = JSON.parse(stdout) as Comparison;
  result.keys = c.keys.length;
  result.wrong = c.keys.filter((k) => !k.ok);
  result.invented = c.unmatched.a.filter((u) => !u.key.startsWith('output:'));
  for (const u of c.unmatched.b) (/not observable in A/.test(u.reason) ? result.reported : result.silent).push(u);
  return result;
}

function line(r: CaseResult, verbose: boolean): string {
  if (r.error) return `ERROR    ${r.name}: ${r.error}`;
  const bad = r.wrong.length + r.invented.length + r.silent.length;
  const head = `${bad ? 'DEFECT' : 'ok    '}   ${r.name}: ${r.keys} keys equal or compared, ${r.wrong.length} wrong, ${r.invented.length} invented, ${r.silent.length} silent, ${r.reported.length} reported`;
  const rows = [
    ...r.wrong.map(
      (k) =>
        `  WRONG     ${k.key} ${JSON.stringify(k.shapeA)} vs ${JSON.stringify(k.shapeB)} maxAbs ${k.maxAbs} cos ${k.cosine}`,
    ),
    ...r.invented.map((u) => `  INVENTED  ${u.key}: ${u.reason}`),
    ...r.silent.map((u) => `  SILENT    ${u.key}: ${u.reason}`),
    ...(verbose ? r.reported.map((u) => `  reported  ${u.key}: ${u.reason}`) : []),
  ];
  return [head, ...rows].join('\n');
}

async function mainReport(argv: string[]): Promise<number> {
  const dir = option(argv, '--out') ?? process.env.NEUROTAP_SWEEP_DIR ?? '/tmp/neurotap-sweep';
  const verbose = flag(argv, '--verbose');
  const json = flag(argv, '--json');
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => existsSync(join(dir, n, 'reference.npz'))) : [];
  const results: CaseResult[] = [];
  for (const name of names.filter((n) => matches(n, argv)).sort()) {
    const r = await compareCase(dir, name);
    results.push(r);
    if (!json) console.log(line(r, verbose));
  }
  if (json) console.log(JSON.stringify(results, null, 1));
  const failed = results.filter((r) => r.error || r.wrong.length + r.invented.length + r.silent.length > 0);
  if (!json) console.log(`${results.length - failed.length}/${results.length} cases without defects`);
  return failed.length > 0 ? 1 : 0;
}

process.exitCode = await mainReport(process.argv.slice(2));
