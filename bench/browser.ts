/**
 * The browser row of `npm run bench`: capture-all ÷ plain `run` on onnxruntime-web (WASM, one
 * thread: the page is not cross-origin isolated) in Debian's Chromium, timed inside the page, the
 * two interleaved in blocks as in Node. The model is the ResNet-18 of `npm run bench:models`.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { startViewerServer } from '../src/cli/view-server.js';
import type { CaseResult, Stats } from './cases.js';

const CHROMIUM = '/usr/bin/chromium';

const pageScript = (root: string) => `import { loadModel } from ${JSON.stringify(join(root, 'src', 'web.ts'))};
const stats = (v) => { const s = [...v].sort((a, b) => a - b); return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1] }; };
window.bench = async (url, batch, rounds, block) => {
  const model = await loadModel(url, { wasmPaths: '/ort/' });
  const x = { data: Float32Array.from({ length: batch * 3 * 224 * 224 }, (_, i) => Math.sin(i)), dims: [batch, 3, 224, 224] };
  const variants = { plain: () => model.run({ x }), leaves: () => model.capture({ x }) };
  const samples = { plain: [], leaves: [] };
  for (let r = 0; r < rounds; r++)
    for (const [k, f] of Object.entries(variants)) {
      await f();
      for (let i = 0; i < block; i++) { const t = performance.now(); await f(); samples[k].push(performance.now() - t); }
    }
  return { plain: stats(samples.plain), leaves: stats(samples.leaves), keys: model.plan().targets.length };
};`;

export async function browserCase(root: string, batch: number, rounds: number): Promise<CaseResult | undefined> {
  const model = join(root, 'fixtures', 'big', 'resnet18-224.onnx');
  if (!existsSync(CHROMIUM) || !existsSync(model)) {
    console.error(`skipping the browser case: needs ${CHROMIUM} and \`npm run bench:models\``);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'neurotap-bench-web-'));
  const server = await startViewerServer({ modelPath: model, assetsDir: dir, port: 0 });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    await esbuild.build({
      stdin: { contents: pageScript(root), resolveDir: root, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      outfile: join(dir, 'bench.js'),
      logLevel: 'silent',
    });
    const html =
      '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="bench.js"></script>';
    writeFileSync(join(dir, 'bench.html'), html);
    const page = await browser.newPage();
    await page.goto(new URL('bench.html', server.url).href);
    await page.waitForFunction(() => 'bench' in window);
    type Result = { plain: Stats; leaves: Stats; keys: number };
    const s = (await page.evaluate(
      (args) => (window as unknown as { bench(...a: unknown[]): Promise<Result> }).bench(...args),
      [new URL('model/model.onnx', server.url).href, batch, rounds, 3] as unknown[],
    )) as Result;
    return {
      case: `browser (onnxruntime-web WASM, Chromium) resnet18 b${batch}: capture all leaves (${s.keys} keys)`,
      ours: s.leaves,
      baseline: 'plain run, same page',
      baselineMs: s.plain.median,
      ratio: s.leaves.median / s.plain.median,
      target: '≤ 1.1',
    };
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
