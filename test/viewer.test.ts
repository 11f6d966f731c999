/**
 * The viewer and the web entry in a real browser: Debian's Chromium driven by playwright-core.
 * The page must open on the bundled digits model with feature maps drawn, show the same numbers
 * as a Node capture, predict every sample digit's label (uploaded as PNG or .npy), follow a digit
 * drawn with the mouse, and start any other model from random inputs. The web entry alone must
 * capture the same tensors in the browser as the Node entry does.
 * Skipped where /usr/bin/chromium is missing, except in CI (CI=1), where that is a failure.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as esbuild from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildViewer } from '../src/cli/view-build.js';
import { startViewerServer, type ViewerServer } from '../src/cli/view-server.js';
import { encodeNpy, parseNpy } from '../src/formats/npy.js';
import { loadModel, type NeurotapModel, type PlainTensor } from '../src/node/index.js';

const ROOT = join(import.meta.dirname, '..');
const CHROMIUM = '/usr/bin/chromium';
const DIGITS = join(ROOT, 'fixtures', 'digits-cnn.onnx');
const SAMPLES = join(ROOT, 'fixtures', 'digits');
const LABELS = JSON.parse(readFileSync(join(SAMPLES, 'labels.json'), 'utf8')) as Record<string, { label: number }>;
const TOLERANCE = 1e-4;
const skip =
  existsSync(CHROMIUM) || process.env.CI
    ? false
    : `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;

type Hook = {
  ready: boolean;
  runs: number;
  prediction?: number;
  source?: string;
  firstRenderMs?: number;
  loadMs?: number;
  lastRunMs?: number;
  error?: { code: string; message: string };
};

const hook = (page: Page) => page.evaluate(() => (window as unknown as { __neurotap: Hook }).__neurotap);

async function launch(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing; CI must run apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

async function openPage(browser: Browser, url: string, problems: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`console: ${m.text()}`)));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __neurotap?: Hook }).__neurotap?.ready === true, null, {
    timeout: 30_000,
  });
  return page;
}

/** Waits for the run that follows `before` runs to land. */
async function nextRun(page: Page, before: number): Promise<Hook> {
  await page.waitForFunction((n) => (window as unknown as { __neurotap: Hook }).__neurotap.runs > n, before, {
    timeout: 10_000,
  });
  return hook(page);
}

/**
 * The run of the finished drawing: the pad predicts on every animation frame while the stroke goes on,
 * so on a loaded machine an early run may see half a stroke. Waits until no run has started for 500 ms.
 */
async function settledRun(page: Page, before: number): Promise<Hook> {
  let last = await nextRun(page, before);
  for (;;) {
    await page.waitForTimeout(500);
    const now = await hook(page);
    if (now.runs === last.runs) return now;
    last = now;
  }
}

/** Draws a polyline on the pad, points as fractions of its size. */
async function draw(page: Page, points: [number, number][]): Promise<void> {
  const box = (await page.locator('canvas.draw-pad').boundingBox())!;
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
  await page.mouse.up();
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths');
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function nodeCapture(model: NeurotapModel, npy: string): Promise<Map<string, Float32Array>> {
  const acts = await model.capture({ image: parseNpy(readFileSync(npy)) as PlainTensor });
  const out = new Map<string, Float32Array>([...acts].map(([k, t]) => [k, t.data as Float32Array]));
  for (const [name, t] of Object.entries(acts.outputs)) out.set(`output:${name}`, t.data as Float32Array);
  return out;
}

/** A page that uses only the web entry: loadModel(url) and capture, returning plain arrays. */
async function writeParityPage(dir: string): Promise<void> {
  const script = `import { loadModel } from ${JSON.stringify(join(ROOT, 'src', 'web.ts'))};
window.captureAll = async (url, data, dims) => {
  const model = await loadModel(url, { wasmPaths: '/ort/' });
  const acts = await model.capture({ image: { data: Float32Array.from(data), dims } }, { layers: 'leaves' });
  const out = {};
  for (const [key, t] of acts) out[key] = Array.from(t.data);
  for (const [name, t] of Object.entries(acts.outputs)) out['output:' + name] = Array.from(t.data);
  return out;
};`;
  await esbuild.build({
    stdin: { contents: script, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: join(dir, 'parity.js'),
    logLevel: 'silent',
  });
  writeFileSync(
    join(dir, 'parity.html'),
    '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="parity.js"></script>',
  );
}

describe('viewer in Chromium', { skip, timeout: 120_000 }, () => {
  const problems: string[] = [];
  let assets: string;
  let server: ViewerServer;
  let browser: Browser;
  let page: Page;
  let node: NeurotapModel;

  before(async () => {
    assets = mkdtempSync(join(tmpdir(), 'neurotap-viewer-'));
    await buildViewer({ outDir: assets });
    await writeParityPage(assets);
    server = await startViewerServer({ modelPath: DIGITS, demo: true, assetsDir: assets, port: 0 });
    browser = await launch();
    node = await loadModel(DIGITS);
    page = await openPage(browser, server.url, problems);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await node?.release();
    if (assets) rmSync(assets, { recursive: true, force: true });
  });

  it('opens on the bundled sample digit and predicts it', async (t) => {
    const h = await hook(page);
    assert.equal(h.source, 'sample digit-3');
    assert.equal(h.prediction, 3);
    assert.equal(await page.locator('.prediction').getAttribute('data-prediction'), '3');
    assert.ok(h.firstRenderMs! > 0 && h.firstRenderMs! < 15_000, `first render after ${h.firstRenderMs} ms`);
    t.diagnostic(
      `first layer painted ${h.firstRenderMs!.toFixed(0)} ms after navigation (model load ${h.loadMs!.toFixed(0)} ms, first capture ${h.lastRunMs!.toFixed(0)} ms)`,
    );
  });

  it('draws every feature map: canvases are not blank', async () => {
    const cards = await page.locator('section.card').count();
    assert.equal(cards, 9, 'one card per leaf module');
    for (let i = 0; i < cards; i++) await page.locator('section.card').nth(i).scrollIntoViewIfNeeded();
    await page.waitForFunction((n) => document.querySelectorAll('canvas.figure').length === n, cards);
    const pixels = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLCanvasElement>('canvas.figure')].map((c) => {
        const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        let opaque = 0;
        for (let i = 0; i < data.length; i += 4)
          if (data[i + 3] > 0) opaque++, colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
        return { key: c.dataset.key, opaque, colours: colours.size };
      }),
    );
    for (const p of pixels)
      assert.ok(p.opaque > 50 && p.colours > 3, `${p.key}: ${p.opaque} opaque pixels, ${p.colours} colours`);
  });

  it('shows the values of a Node capture of the same input', async () => {
    const expected = await nodeCapture(node, join(SAMPLES, 'digit-3.npy'));
    for (const [key, values] of expected) {
      const shown = await page.evaluate(
        (k) =>
          (window as unknown as { __neurotap: { values(k: string): number[] } }).__neurotap.values(
            k.replace(/^output:/, ''),
          ),
        key,
      );
      assert.ok(maxAbsDiff(shown, values) < TOLERANCE, `${key} differs from Node by ${maxAbsDiff(shown, values)}`);
    }
    const conv1 = expected.get('conv1')!;
    const mean = conv1.reduce((s, v) => s + v, 0) / conv1.length;
    const shownMean = Number(
      await page.locator('section.card[data-key="conv1"] [data-stat="mean"]').getAttribute('data-value'),
    );
    assert.ok(Math.abs(shownMean - mean) < TOLERANCE, `mean shown ${shownMean}, Node ${mean}`);
    assert.equal(
      await page.locator('section.card[data-key="conv1"] [data-stat="mean"] dd').textContent(),
      String(Number(mean.toPrecision(4))),
    );
  });

  it('shows the exact value under the mouse', async () => {
    const expected = (await nodeCapture(node, join(SAMPLES, 'digit-3.npy'))).get('conv1')!;
    const canvas = page.locator('canvas.figure[data-key="conv1"]');
    await canvas.scrollIntoViewIfNeeded();
    await canvas.hover({ position: { x: 3, y: 3 } });
    const text = await page.locator('.tooltip').textContent();
    const match = /^conv1\[0, 0, 0, 0\] = (\S+)$/.exec(text ?? '');
    assert.ok(match, `tooltip: ${text}`);
    assert.equal(Math.fround(Number(match[1])), expected[0]);
  });

  it('predicts the label of every bundled sample digit, uploaded as PNG and as .npy', async () => {
    for (const [file, { label }] of Object.entries(LABELS)) {
      const before = (await hook(page)).runs;
      await page.setInputFiles(file.endsWith('.png') ? '#image-file' : '#npy-file', join(SAMPLES, file));
      const h = await nextRun(page, before);
      assert.equal(h.prediction, label, `${file}: predicted ${h.prediction}, label ${label}`);
      assert.match(h.source ?? '', new RegExp(file.replace('.', '\\.')));
    }
  });

  it('follows a digit drawn with the mouse, live', async () => {
    await page.evaluate(() => window.scrollTo(0, 0)); // the pad sits in the top panel, clear of the sticky header
    const start = await hook(page);
    await page.click('#clear-pad');
    const blank = await nextRun(page, start.runs);
    await draw(page, [
      [0.5, 0.1],
      [0.5, 0.9],
    ]);
    const one = await settledRun(page, blank.runs);
    assert.equal(one.prediction, 1, 'a vertical stroke reads as 1');
    assert.notEqual(one.prediction, start.prediction);
    await page.click('#clear-pad');
    const cleared = await nextRun(page, one.runs);
    const ring = Array.from(
      { length: 25 },
      (_, i) =>
        [0.5 + 0.28 * Math.sin((i / 24) * 2 * Math.PI), 0.5 - 0.4 * Math.cos((i / 24) * 2 * Math.PI)] as [
          number,
          number,
        ],
    );
    await draw(page, ring);
    const zero = await settledRun(page, cleared.runs);
    assert.ok(
      zero.runs >= cleared.runs + 3,
      `the prediction updates during the stroke (${zero.runs - cleared.runs} runs)`,
    );
    assert.equal(zero.prediction, 0, 'a ring reads as 0');
  });

  it('shows a typed error for a wrong input and keeps working', async () => {
    const bad = join(assets, 'bad.npy');
    writeFileSync(bad, encodeNpy({ type: 'float32', dims: [1, 1, 4, 4], data: new Float32Array(16) }));
    await page.setInputFiles('#npy-file', bad);
    await page.waitForSelector('.error-area .error');
    assert.equal((await hook(page)).error?.code, 'E_INPUT_SHAPE');
    assert.match(
      (await page.locator('.error-area .error').textContent()) ?? '',
      /expects shape \[batch, 1, 8, 8\], got \[1, 1, 4, 4\]/,
    );
    await page.evaluate(() => window.scrollTo(0, 0));
    const before = (await hook(page)).runs;
    await page.click('button.sample[data-sample="digit-5"]');
    assert.equal((await nextRun(page, before)).prediction, 5);
  });

  it('reruns on Run', async () => {
    const before = (await hook(page)).runs;
    await page.click('#run');
    assert.equal((await nextRun(page, before)).runs, before + 1);
  });

  it('starts a model without samples from random inputs and draws its sequences', async () => {
    const rnn = await startViewerServer({
      modelPath: join(ROOT, 'fixtures', 'rnn', 'model.onnx'),
      assetsDir: assets,
      port: 0,
    });
    try {
      const other = await openPage(browser, rnn.url, problems);
      const h = await hook(other);
      assert.match(h.source ?? '', /^random normal values, seed 0/);
      assert.equal(h.error, undefined);
      const dims = await other.evaluate(() =>
        (window as unknown as { __neurotap: { layers(): { key: string; dims: number[] }[] } }).__neurotap.layers(),
      );
      assert.deepEqual(dims.find((l) => l.key === 'lstm#0')?.dims.length, 3);
      assert.ok((await other.locator('canvas.figure.sequence').count()) >= 1, 'a time x unit heatmap');
      await other.close();
    } finally {
      await rnn.close();
    }
  });

  it('works as a static site (npm run build:viewer) where a dropped .onnx file opens', async () => {
    const site = mkdtempSync(join(tmpdir(), 'neurotap-site-'));
    const staticServer = await (async () => {
      await buildViewer({ outDir: site, standalone: true });
      return startViewerServer({ assetsDir: site, port: 0 }); // no model: the folder as any static host serves it
    })();
    try {
      const other = await openPage(browser, staticServer.url, problems);
      assert.equal((await hook(other)).prediction, 3);
      const before = (await hook(other)).runs;
      await other.setInputFiles('#model-file', join(ROOT, 'fixtures', 'rnn', 'model.onnx'));
      const h = await nextRun(other, before);
      assert.match(h.source ?? '', /^random/);
      assert.match((await other.locator('#model-name').textContent()) ?? '', /^model\.onnx \(\d+ KB\)$/);
      await other.close();
    } finally {
      await staticServer.close();
      rmSync(site, { recursive: true, force: true });
    }
  });

  it('the web entry captures the same tensors as the Node entry (all leaves, within 1e-4)', async () => {
    const parity = await browser.newPage();
    parity.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await parity.goto(new URL('parity.html', server.url).href);
    await parity.waitForFunction(() => 'captureAll' in window);
    for (const digit of ['digit-0.npy', 'digit-7.npy']) {
      const input = parseNpy(readFileSync(join(SAMPLES, digit)));
      const expected = await nodeCapture(node, join(SAMPLES, digit));
      const modelUrl = new URL('model/digits-cnn.onnx', server.url).href;
      const got = await parity.evaluate(
        ([url, data, dims]) =>
          (
            window as unknown as { captureAll(u: unknown, d: unknown, s: unknown): Promise<Record<string, number[]>> }
          ).captureAll(url, data, dims),
        [modelUrl, Array.from(input.data as Float32Array), [...input.dims]] as const,
      );
      assert.deepEqual(Object.keys(got).sort(), [...expected.keys()].sort());
      for (const [key, values] of expected)
        assert.ok(maxAbsDiff(got[key], values) < TOLERANCE, `${digit} ${key}: ${maxAbsDiff(got[key], values)}`);
    }
    await parity.close();
  });

  it('logs no page errors', () => {
    assert.deepEqual(problems, []);
  });
});
