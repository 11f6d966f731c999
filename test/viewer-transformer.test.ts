/**
 * The viewer's transformer panel in Debian's Chromium: on the tiny HF GPT-2 (fixtures/hf-gpt2) fed
 * the fixture's token ids, the per-token norms the page computed equal torch's norms of HF's hidden
 * states (scripts/fixtures_lens.py), there is one head grid per layer with one heatmap per head, and
 * the probabilities drawn equal HF's attentions. A model without the presets shows no panel. A page
 * that starts from random inputs makes them as --random does (token ids inside the vocabulary).
 * Skipped where /usr/bin/chromium is missing, except in CI (CI=1), where that is a failure.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildViewer } from '../src/cli/view-build.js';
import { startViewerServer, type ViewerServer } from '../src/cli/view-server.js';
import { randomFeeds } from '../src/cli/random.js';
import { parseNpz } from '../src/formats/npz.js';
import { loadModel } from '../src/node/index.js';
import type { HostTensor } from '../src/tensor.js';
import { FIXTURES, mismatch } from './helpers/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const GPT2 = join(FIXTURES, 'hf-gpt2');
const skip =
  existsSync(CHROMIUM) || process.env.CI
    ? false
    : `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;

interface Panel {
  norms?: { layers: string[]; tokens: number; values: Record<string, number> };
  heads: { key: string; heads: number; queries: number; keys: number; values: Record<string, number> }[];
  notObservable: { key: string }[];
}
interface Hook {
  ready: boolean;
  runs: number;
  source?: string;
  error?: { code: string; message: string };
  result?: { transformer?: Panel };
}

const npz = (path: string) => parseNpz(new Uint8Array(readFileSync(path)));
const hook = (page: Page) => page.evaluate(() => (window as unknown as { __neurotap: Hook }).__neurotap);

/** Sample 0 of a golden, flattened. */
function first(t: HostTensor): Float32Array {
  const per = (t.data as Float32Array).length / t.dims[0];
  return (t.data as Float32Array).slice(0, per);
}

describe('viewer transformer panel in Chromium', { skip, timeout: 120_000 }, () => {
  let assets: string;
  let server: ViewerServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    assets = mkdtempSync(join(tmpdir(), 'neurotap-viewer-tf-'));
    await buildViewer({ outDir: assets });
    server = await startViewerServer({ modelPath: join(GPT2, 'model.onnx'), assetsDir: assets, port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { __neurotap?: Hook }).__neurotap?.ready === true, null, {
      timeout: 60_000,
    });
    const ids = npz(join(GPT2, 'input.npz')).get('input_ids')!;
    const before = (await hook(page)).runs;
    await page.evaluate(
      ([data, dims]) =>
        (
          window as unknown as { __neurotap: { setInput(n: string, d: number[], s: number[], t: string): void } }
        ).__neurotap.setInput('input_ids', data, dims, 'int64'),
      [Array.from(ids.data as BigInt64Array, Number), [...ids.dims]] as [number[], number[]],
    );
    await page.waitForFunction((n) => (window as unknown as { __neurotap: Hook }).__neurotap.runs > n, before, {
      timeout: 30_000,
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (assets) rmSync(assets, { recursive: true, force: true });
  });

  it('draws the hidden states as a layer × token heatmap of the norms torch computes', async () => {
    const h = await hook(page);
    assert.equal(h.error, undefined, JSON.stringify(h.error));
    const norms = h.result!.transformer!.norms!;
    assert.deepEqual(norms.layers, ['hidden_states.0', 'hidden_states.1', 'hidden_states.2']);
    assert.equal(norms.tokens, 8);
    const golden = npz(join(FIXTURES, 'lens', 'hf-gpt2.npz'));
    const expected = Float32Array.from(norms.layers.flatMap((_, i) => [...first(golden.get(`norm.${i}`)!)]));
    const shown = { dims: [expected.length], data: Float32Array.from(Object.values(norms.values)) };
    assert.equal(mismatch(shown, { type: 'float32', dims: [expected.length], data: expected }), undefined);
    const canvas = page.locator('canvas.token-norms');
    assert.deepEqual([await canvas.getAttribute('data-layers'), await canvas.getAttribute('data-tokens')], ['3', '8']);
    assert.equal(await page.locator('#transformer-panel .row-labels span').count(), 3);
  });

  it('draws one head grid per layer, one query × key heatmap per head, with HF attention probabilities', async () => {
    const panel = (await hook(page)).result!.transformer!;
    assert.deepEqual(
      panel.heads.map((g) => [g.key, g.heads, g.queries, g.keys]),
      [
        ['attentions.0', 4, 8, 8],
        ['attentions.1', 4, 8, 8],
      ],
    );
    const hf = npz(join(GPT2, 'hf_outputs.npz'));
    for (const g of panel.heads) {
      const expected = first(hf.get(g.key)!);
      const shown = { dims: [expected.length], data: Float32Array.from(Object.values(g.values)) };
      assert.equal(mismatch(shown, { type: 'float32', dims: [expected.length], data: expected }), undefined, g.key);
    }
    const grids = page.locator('canvas.head-grid');
    assert.equal(await grids.count(), 2);
    for (let i = 0; i < 2; i++) {
      assert.equal(await grids.nth(i).getAttribute('data-heads'), '4');
      const colours = await grids.nth(i).evaluate((c: HTMLCanvasElement) => {
        const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let p = 0; p < data.length; p += 4)
          if (data[p + 3]) seen.add((data[p] << 16) | (data[p + 1] << 8) | data[p + 2]);
        return seen.size;
      });
      assert.ok(colours > 8, `head grid ${i}: ${colours} colours`);
    }
    assert.deepEqual(problems, []);
  });

  it('starts from random inputs as --random makes them: token ids inside the embedding, masks of ones, an empty cache', async () => {
    const model = await loadModel(join(GPT2, 'model.onnx'));
    const expected = randomFeeds(model, model.inputNames, new Map([['sequence', 16]]), 0).input_ids;
    await model.release();
    const p = await browser.newPage();
    try {
      await p.goto(server.url);
      await p.waitForFunction(() => (window as unknown as { __neurotap?: Hook }).__neurotap?.ready === true, null, {
        timeout: 60_000,
      });
      assert.match((await hook(p)).source ?? '', /^random/);
      const ids = await p.evaluate(() =>
        (
          window as unknown as { __neurotap: { input(n: string): { type: string; dims: number[]; data: number[] } } }
        ).__neurotap.input('input_ids'),
      );
      assert.deepEqual([ids.type, ids.dims], ['int64', [1, 16]]);
      assert.deepEqual(ids.data, Array.from(expected.data as BigInt64Array, Number));
      // Inside GPT-2's 96 embedding rows, and not the zeros the page used to make.
      assert.ok(ids.data.every((v) => v >= 0 && v < 96) && new Set(ids.data).size > 8, `${ids.data}`);
    } finally {
      await p.close();
    }
    // A KV-cache GroupQueryAttention Llama runs from random inputs: mask of ones, empty past, recomputed heads.
    const gqa = await startViewerServer({
      modelPath: join(FIXTURES, 'hf-llama-gqa', 'model.gqa.onnx'),
      assetsDir: assets,
      port: 0,
    });
    const q = await browser.newPage();
    try {
      await q.goto(gqa.url);
      await q.waitForFunction(
        () => {
          const h = (window as unknown as { __neurotap?: Hook }).__neurotap;
          // runs, not ready: the tall head grids push the layer cards (which set ready once painted) off screen.
          return (h?.runs ?? 0) > 0 || h?.error !== undefined;
        },
        null,
        { timeout: 60_000 },
      );
      const h = await hook(q);
      assert.equal(h.error, undefined, JSON.stringify(h.error));
      const input = (name: string) =>
        q.evaluate(
          (n) =>
            (
              window as unknown as { __neurotap: { input(n: string): { dims: number[]; data: number[] } } }
            ).__neurotap.input(n),
          name,
        );
      const mask = await input('attention_mask');
      assert.deepEqual([mask.dims, new Set(mask.data)], [[1, 16], new Set([1])]);
      assert.deepEqual((await input('past_key_values.0.key')).dims, [1, 2, 0, 16]);
      assert.deepEqual(
        h.result!.transformer!.heads.map((g) => [g.key, g.heads, g.queries, g.keys]),
        [
          ['attentions.0', 4, 16, 16],
          ['attentions.1', 4, 16, 16],
        ],
      );
    } finally {
      await q.close();
      await gqa.close();
    }
  });

  it('shows no transformer panel for a model without the presets', async () => {
    const other = await startViewerServer({
      modelPath: join(FIXTURES, 'seed-mlp', 'model.onnx'),
      assetsDir: assets,
      port: 0,
    });
    const p = await browser.newPage();
    try {
      await p.goto(other.url);
      await p.waitForFunction(() => (window as unknown as { __neurotap?: Hook }).__neurotap?.ready === true, null, {
        timeout: 60_000,
      });
      assert.equal((await hook(p)).result!.transformer, undefined);
      assert.equal(await p.locator('#transformer-panel').isHidden(), true);
    } finally {
      await p.close();
      await other.close();
    }
  });
});
