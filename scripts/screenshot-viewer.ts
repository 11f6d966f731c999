/**
 * Screenshots of the viewer and of a report for docs/viewer.md, taken in Debian's Chromium:
 * `node --import tsx scripts/screenshot-viewer.ts` writes docs/img/viewer-*.png
 * (`… screenshot-viewer.ts transformer` only the transformer panel's).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { main } from '../src/cli/main.js';
import { parseNpz } from '../src/formats/npz.js';
import { buildViewer, PACKAGE_ROOT } from '../src/cli/view-build.js';
import { startViewerServer } from '../src/cli/view-server.js';

const IMG = join(PACKAGE_ROOT, 'docs', 'img');
const DIGITS = join(PACKAGE_ROOT, 'fixtures', 'digits-cnn.onnx');
const RNN = join(PACKAGE_ROOT, 'fixtures', 'rnn', 'model.onnx');

async function open(browser: Browser, url: string, height = 1000): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height }, deviceScaleFactor: 1 });
  await page.goto(url);
  await page.waitForFunction(
    () => (window as unknown as { __neurotap?: { ready: boolean } }).__neurotap?.ready === true,
  );
  await page.waitForTimeout(300);
  return page;
}

async function drawSeven(page: Page): Promise<void> {
  const box = (await page.locator('canvas.draw-pad').boundingBox())!;
  const at = (x: number, y: number) => [box.x + x * box.width, box.y + y * box.height] as const;
  await page.click('#clear-pad');
  await page.mouse.move(...at(0.22, 0.14));
  await page.mouse.down();
  for (const [x, y] of [
    [0.78, 0.14],
    [0.5, 0.88],
  ])
    await page.mouse.move(...at(x, y), { steps: 10 });
  await page.mouse.up();
  await page.waitForTimeout(400);
}

async function shootViewer(browser: Browser, assets: string): Promise<void> {
  const server = await startViewerServer({ modelPath: DIGITS, demo: true, assetsDir: assets, port: 0 });
  const page = await open(browser, server.url);
  await page.screenshot({ path: join(IMG, 'viewer-overview.png') });
  await drawSeven(page);
  const panels = (await page.locator('.panels').boundingBox())!;
  await page.screenshot({
    path: join(IMG, 'viewer-draw.png'),
    clip: { x: panels.x - 8, y: panels.y - 8, width: panels.width + 16, height: panels.height + 16 },
  });
  const card = page.locator('section.card[data-key="conv2"]');
  await card.scrollIntoViewIfNeeded();
  await page.locator('canvas.figure[data-key="conv2"]').hover({ position: { x: 200, y: 30 } });
  await card.screenshot({ path: join(IMG, 'viewer-layer.png') });
  await page.close();
  await server.close();
  const rnn = await startViewerServer({ modelPath: RNN, assetsDir: assets, port: 0 });
  const other = await open(browser, rnn.url, 1300);
  await other.screenshot({ path: join(IMG, 'viewer-sequence.png') });
  await other.close();
  await rnn.close();
}

/** The transformer panel on the tiny HF GPT-2, fed its fixture's token ids. */
async function shootTransformer(browser: Browser, assets: string): Promise<void> {
  const folder = join(PACKAGE_ROOT, 'fixtures', 'hf-gpt2');
  const server = await startViewerServer({ modelPath: join(folder, 'model.onnx'), assetsDir: assets, port: 0 });
  const page = await open(browser, server.url, 1100);
  const ids = parseNpz(new Uint8Array(readFileSync(join(folder, 'input.npz')))).get('input_ids')!;
  await page.evaluate(
    ([data, dims]) =>
      (
        window as unknown as { __neurotap: { setInput(n: string, d: number[], s: number[], t: string): void } }
      ).__neurotap.setInput('input_ids', data, dims, 'int64'),
    [Array.from(ids.data as BigInt64Array, Number), [...ids.dims]] as [number[], number[]],
  );
  await page.waitForTimeout(1500);
  await page.locator('#transformer-panel').screenshot({ path: join(IMG, 'viewer-transformer.png') });
  await page.close();
  await server.close();
}

async function shootReport(browser: Browser, dir: string): Promise<void> {
  const out = join(dir, 'report.html');
  const code = await main([
    'report',
    relative(process.cwd(), DIGITS),
    '--input',
    relative(process.cwd(), join(PACKAGE_ROOT, 'fixtures', 'digits', 'digit-3.npy')),
    '--out',
    out,
  ]);
  if (code !== 0) throw new Error(`neurotap report failed with exit code ${code}`);
  const page = await browser.newPage({ viewport: { width: 1200, height: 1100 }, deviceScaleFactor: 1 });
  await page.goto(`file://${out}`);
  await page.screenshot({ path: join(IMG, 'viewer-report.png') });
  await page.close();
}

const dir = mkdtempSync(join(tmpdir(), 'neurotap-shots-'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
  ],
});
try {
  await buildViewer({ outDir: dir });
  if (process.argv[2] !== 'transformer') {
    await shootViewer(browser, dir);
    await shootReport(browser, dir);
  }
  await shootTransformer(browser, dir);
  process.stdout.write(`wrote ${IMG}/viewer-{overview,draw,layer,sequence,report,transformer}.png\n`);
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
