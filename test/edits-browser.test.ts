/**
 * Interventions in a real browser: the web entry (onnxruntime-web, WASM) in Debian's Chromium runs
 * the toy GPT with four edits at once (steering add, attention zeroed, an MLP patched from a clean
 * run captured in the page, a clamp) and returns what PyTorch's returning forward hooks gave
 * (scripts/fixtures_edits.py), as the Node entry does. Skipped where /usr/bin/chromium is missing,
 * except in CI (CI=1), where that is a failure.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHROMIUM, hostPage, type PageHost } from './helpers/browser-page.js';
import { editFixture } from './helpers/edits.js';
import { mismatch } from './helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..');
const skip =
  existsSync(CHROMIUM) || process.env.CI
    ? false
    : `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;

/** The page: loadModel(url) from the web entry, then a clean capture and an edited one. */
const PAGE_SCRIPT = `import { loadModel, add, zero, clamp, patchFrom } from ${JSON.stringify(join(ROOT, 'src', 'web.ts'))};
window.editedRun = async (url, ids, cleanIds, steer, layers) => {
  const model = await loadModel(url, { wasmPaths: '/ort/' });
  const feed = (v) => ({ ids: { data: BigInt64Array.from(v.map(BigInt)), dims: [2, 8] } });
  const clean = await model.capture(feed(cleanIds), { layers: ['h.1.mlp'] });
  const acts = await model.capture(feed(ids), {
    layers,
    edit: {
      'h.0': add({ data: Float32Array.from(steer), dims: [16] }, { scale: 4 }),
      'h.0.attn': zero(),
      'h.1.mlp': patchFrom(clean),
      'h.2.mlp.0': clamp({ max: 0 }),
    },
  });
  const out = {};
  for (const [key, t] of acts) out[key] = Array.from(t.data);
  out.__logits = Array.from(acts.outputs.logits.data);
  return out;
};`;

describe('edits in Chromium (web entry)', { skip, timeout: 120_000 }, () => {
  const fx = editFixture('edits-gpt');
  let host: PageHost;

  before(async () => {
    host = await hostPage('neurotap-edits-web-', 'edits', PAGE_SCRIPT, fx.path);
  });

  after(() => host?.close());

  it('four edits at once equal PyTorch (every block, the logits)', async () => {
    const page = await host.browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(new URL('edits.html', host.server.url).href);
    await page.waitForFunction(() => 'editedRun' in window);
    const c = fx.cases.find((x) => x.name === 'together')!;
    const numbers = (t: { data: unknown }) => Array.from(t.data as ArrayLike<number | bigint>, Number);
    const layers = Array.from({ length: 12 }, (_, i) => `h.${i}`);
    const got = await page.evaluate(
      (args) =>
        (window as unknown as { editedRun(...a: unknown[]): Promise<Record<string, number[]>> }).editedRun(...args),
      [
        new URL('model/model.onnx', host.server.url).href,
        numbers(fx.inputs.ids),
        numbers(fx.clean().ids),
        numbers(fx.tensor(c, 'h.0')),
        layers,
      ] as unknown[],
    );
    assert.deepEqual(problems, []);
    for (const key of [...layers, '__logits']) {
      const expected = fx.golden.get(`together/${key === '__logits' ? '__output__#0' : key}`)!;
      const actual = { dims: expected.dims, data: Float32Array.from(got[key]) };
      assert.equal(mismatch(actual, expected, 1e-5, 1e-5), undefined, `${key} in the browser differs from PyTorch`);
    }
    await page.close();
  });
});
