/**
 * `npm run bench`: capture cost against plain ONNX Runtime inference (same process, interleaved runs)
 * and against PyTorch eager with forward hooks (when Debian's python3-torch is installed).
 * Prints a table, then one JSON object. Large models come from `npm run bench:models`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NeurotapModel } from '../src/model.js';
import { loadModel } from '../src/node/index.js';
import { zeroCopyRuntime } from '../src/node/zero-copy/runtime.js';
import type { Runtime } from '../src/runtime/runtime.js';
import * as ort from 'onnxruntime-node';
import { type CaseResult, clockMs, measureRepeatedCaptures, type Stats, stats } from './cases.js';
import { datasetCases } from './dataset.js';
import { patchingSweepCase } from './edits.js';
import { s3Cases } from './s3.js';
import { captureOverheadCase } from './overhead.js';
import { browserCase } from './browser.js';

const ROOT = join(import.meta.dirname, '..');
const BIG = join(ROOT, 'fixtures', 'big');
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const CLOCK = process.env.BENCH_CLOCK === 'cpu' ? 'cpu' : 'wall';
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const PYTHON = '/usr/bin/python3';
/** BENCH_ONLY=overhead,resnet,browser,big,rss,dataset,s3,edits runs only those groups. */
const ONLY = process.env.BENCH_ONLY?.split(',');
const want = (group: string) => !ONLY || ONLY.includes(group);
const bindingRuntime = ort as unknown as Runtime;

async function time(f: () => Promise<unknown>): Promise<number> {
  const t = clockMs();
  await f();
  return clockMs() - t;
}

/**
 * Runs the variants in alternating blocks, so drift on a noisy machine hits all of them alike. Each
 * block first runs its variant once untimed: a run right after another variant's is not typical of
 * a loop of the same work (allocation patterns carry over: measured up to ±20 % at 80 MB of outputs).
 */
async function interleaved(
  variants: Record<string, () => Promise<unknown>>,
  runs: number,
  block = 3,
  samples: Record<string, number[]> = {},
): Promise<Record<string, Stats>> {
  for (const k of Object.keys(variants)) samples[k] ??= [];
  for (let round = 0; round < Math.ceil(runs / block); round++) {
    for (const [k, f] of Object.entries(variants)) {
      await f();
      for (let i = 0; i < block; i++) samples[k].push(await time(f));
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
}

function torchHooksMs(batch: number, size: number): { ms: number | null; note?: string } {
  if (!existsSync(PYTHON)) return { ms: null, note: 'no /usr/bin/python3' };
  try {
    const out = execFileSync(
      PYTHON,
      [join(ROOT, 'bench', 'torch_hooks.py'), String(batch), String(size), String(THREADS), String(RUNS), CLOCK],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return { ms: JSON.parse(out.trim().split('\n').pop()!).median_ms };
  } catch {
    return { ms: null, note: 'PyTorch baseline skipped: python3-torch / python3-torchvision not installed' };
  }
}

function torchHooksMedian(runs: { ms: number | null; note?: string }[]): { ms: number | null; note?: string } {
  const ms = runs
    .map((r) => r.ms)
    .filter((m): m is number => m !== null)
    .sort((a, b) => a - b);
  return ms.length ? { ms: ms[ms.length >> 1] } : runs[0];
}

async function resnetCases(results: CaseResult[]): Promise<void> {
  const path = join(BIG, 'resnet18-224.onnx');
  if (!existsSync(path)) return void console.error('skipping ResNet-18 cases: run `npm run bench:models` first');
  const model: NeurotapModel = await loadModel(path, { threads: THREADS });
  // The same model on ONNX Runtime's C API, whose outputs are not copied (opt-in: NEUROTAP_ZERO_COPY=1).
  const zeroCopy = NeurotapModel.fromBytes(
    new Uint8Array(readFileSync(path)),
    zeroCopyRuntime(bindingRuntime, { enabled: true }),
    { threads: THREADS },
  );
  const batch = 8;
  const x = {
    data: Float32Array.from({ length: batch * 3 * 224 * 224 }, (_, i) => Math.sin(i)),
    dims: [batch, 3, 224, 224],
  };
  const variants = {
    plain: () => model.run({ x }),
    leaves: () => model.capture({ x }),
    leavesZeroCopy: () => zeroCopy.capture({ x }),
    leavesFloat16: () => model.capture({ x }, { dtype: 'float16' }),
    leavesMean: () => model.capture({ x }, { reduce: 'mean' }),
    layer1Stop: () => model.capture({ x }, { layers: ['layer1'], stop: true }),
  };
  // PyTorch runs in its own process, between blocks of ours: drift on a shared machine hits both alike.
  const samples: Record<string, number[]> = {};
  const torchRuns: { ms: number | null; note?: string }[] = [];
  for (let segment = 0; segment < 3; segment++) {
    torchRuns.push(torchHooksMs(batch, 224));
    await interleaved(variants, Math.ceil(RUNS / 3), 3, samples);
  }
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
  const leafCount = model.plan().targets.length;
  const vsPlain = (name: string, st: Stats, target: string): CaseResult => ({
    case: name,
    ours: st,
    baseline: 'plain session.run',
    baselineMs: s.plain.median,
    ratio: st.median / s.plain.median,
    target,
  });
  results.push(vsPlain(`resnet18 b8: capture all leaves (${leafCount} keys)`, s.leaves, '≤ 1.1'));
  results.push(vsPlain('resnet18 b8: all leaves, zero-copy C API (opt-in)', s.leavesZeroCopy, 'reference'));
  results.push(vsPlain('resnet18 b8: all leaves as float16 (half the bytes)', s.leavesFloat16, 'reference'));
  results.push(vsPlain('resnet18 b8: layer1 only, early stop', s.layer1Stop, '≤ 0.45'));
  results.push(vsPlain('resnet18 b8: all leaves, spatial mean in graph', s.leavesMean, '≤ 1.05'));
  const torch = torchHooksMedian(torchRuns);
  results.push(torchRow('resnet18 b8: PyTorch eager + hooks on all leaves ÷ our capture all', s.leaves, torch));
  await preservedResnetCase(results, x, torch);
}

/** PyTorch's time ÷ ours (the form: how many times faster we are). */
function torchRow(name: string, ours: Stats, torch: { ms: number | null; note?: string }): CaseResult {
  return {
    case: name,
    ours,
    baseline: 'torch 1.13 forward hooks',
    baselineMs: torch.ms,
    ratio: torch.ms ? torch.ms / ours.median : null,
    target: '≥ 1.3',
    note: torch.note,
  };
}

/** The same network exported with BatchNorm kept: all 52 leaves observable, as PyTorch's hooks see them. */
async function preservedResnetCase(
  results: CaseResult[],
  x: { data: Float32Array; dims: number[] },
  torch: { ms: number | null; note?: string },
): Promise<void> {
  const path = join(BIG, 'resnet18-224-preserve.onnx');
  if (!existsSync(path)) return;
  const model = await loadModel(path, { threads: THREADS });
  const s = await interleaved({ plain: () => model.run({ x }), leaves: () => model.capture({ x }) }, RUNS);
  const keys = model.plan().targets.length;
  results.push({
    case: `resnet18 (BatchNorm kept) b8: all ${keys} leaf keys`,
    ours: s.leaves,
    baseline: 'plain session.run (same export)',
    baselineMs: s.plain.median,
    ratio: s.leaves.median / s.plain.median,
    target: 'reference',
  });
  results.push(torchRow(`resnet18 (BatchNorm kept) b8: PyTorch + hooks ÷ our ${keys} leaf keys`, s.leaves, torch));
}

function bigModelCase(results: CaseResult[]): void {
  const path = join(BIG, 'mlp-1gb.onnx');
  if (!existsSync(path)) return void console.error('skipping big-model case: run `npm run bench:models` first');
  const child = (mode: string) =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'big-model-child.ts'), mode, path], {
        encoding: 'utf8',
      }).trim(),
    );
  const ort: { ms: number; peakRssMB: number }[] = [];
  const ours: { ms: number; peakRssMB: number }[] = [];
  for (let i = 0; i < 3; i++) {
    ort.push(child('ort'));
    ours.push(child('neurotap'));
  }
  const ortTime = stats(ort.map((r) => r.ms));
  const ourTime = stats(ours.map((r) => r.ms));
  const ortRss = stats(ort.map((r) => r.peakRssMB)).median;
  const ourRss = stats(ours.map((r) => r.peakRssMB)).median;
  results.push({
    case: 'mlp 1.07 GB external data: load + capture session (time)',
    ours: ourTime,
    baseline: 'ORT session from file',
    baselineMs: ortTime.median,
    ratio: ourTime.median / ortTime.median,
    target: '≤ 1.3',
  });
  results.push({
    case: `mlp 1.07 GB: peak RSS ${ourRss.toFixed(0)} MB vs ${ortRss.toFixed(0)} MB`,
    ours: { median: ourRss, min: ourRss, max: ourRss },
    baseline: 'ORT peak RSS (MB)',
    baselineMs: ortRss,
    ratio: ourRss / ortRss,
    target: '≤ 1.3',
  });
}

async function main(): Promise<void> {
  const results: CaseResult[] = [];
  // First, so the RSS it watches is not the ResNet cases' memory being returned.
  const rss = want('rss') ? await measureRepeatedCaptures(ROOT, 1000, THREADS) : undefined;
  if (want('overhead')) results.push(await captureOverheadCase(ROOT, THREADS));
  if (want('resnet')) await resnetCases(results);
  const browser = want('browser') ? await browserCase(ROOT, 1, Math.max(2, Math.ceil(RUNS / 5))) : undefined;
  if (browser) results.push(browser);
  if (want('big')) bigModelCase(results);
  if (rss)
    results.push({
      case: `digits-cnn: 1000 captures, RSS ${rss.afterWarmupMB.toFixed(0)} → ${rss.endMB.toFixed(0)} MB`,
      ours: { median: rss.endMB, min: rss.endMB, max: rss.endMB },
      baseline: 'RSS after 2,000 warm-up captures (MB)',
      baselineMs: rss.afterWarmupMB,
      ratio: rss.endMB / rss.afterWarmupMB,
      target: '≤ 1.1',
    });
  if (want('dataset')) results.push(...(await datasetCases(ROOT, THREADS)));
  if (want('s3')) results.push(...(await s3Cases(ROOT, THREADS)));
  if (want('edits')) results.push(await patchingSweepCase(ROOT, THREADS, (variants) => interleaved(variants, RUNS)));
  printTable(results);
  console.log(JSON.stringify({ threads: THREADS, runs: RUNS, clock: CLOCK, node: process.version, results }, null, 1));
}

function printTable(results: CaseResult[]): void {
  const rows = results.map((r) => [
    r.case,
    r.ours.median.toFixed(1),
    `${r.ours.min.toFixed(1)}–${r.ours.max.toFixed(1)}`,
    r.baselineMs === null ? 'n/a' : r.baselineMs.toFixed(1),
    r.ratio === null ? 'n/a' : r.ratio.toFixed(2),
    r.target,
  ]);
  const head = ['case', 'ours (ms|MB)', 'range', 'baseline', 'ratio', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [head, ...rows]) console.error(row.map((c, i) => c.padEnd(widths[i])).join('  '));
  for (const r of results) if (r.note) console.error(`note: ${r.note}`);
}

await main();
