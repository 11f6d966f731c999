/**
 * The same tensors in Chromium: the web entry (onnxruntime-web, WASM, one thread) in Debian's
 * Chromium captures a small set of fixtures (QDQ, torch.ao quantized, fp16, Loop/If, LSTM), and each
 * key is a key onnxruntime-node gives with the same value (or reported on the web with a reason), and
 * the outputs under capture equal the page's plain run. Skipped where /usr/bin/chromium is missing,
 * except in CI (CI=1), where that is a failure.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CHROMIUM, hostPage, type PageHost } from './helpers/browser-page.js';
import { loadModel as loadNode } from '../src/node/index.js';
import { assertSameAsNode, runOn, webCase, type RuntimeResult } from './helpers/runtimes.js';

const ROOT = join(import.meta.dirname, '..');
const skip =
  existsSync(CHROMIUM) || process.env.CI
    ? false
    : `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;
const BROWSER_SET = ['fused-qdq', 'quant-stubs', 'compare/seed-cnn-fp16.onnx', 'control-flow', 'rnn'];

/** The page: the plain run and a capture of every value and module, as plain arrays. */
const PAGE_SCRIPT = `import { loadModel } from ${JSON.stringify(join(ROOT, 'src', 'web.ts'))};
const ARRAYS = { float32: Float32Array, float16: Uint16Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array, bool: Uint8Array };
const plainOf = (t) => ({ type: t.type, dims: [...t.dims], data: Array.from(t.data, Number), ctor: t.data.constructor.name });
window.runCase = async (url, feeds) => {
  const model = await loadModel(url, { wasmPaths: '/ort/' });
  const inputs = {};
  for (const [name, f] of Object.entries(feeds))
    inputs[name] = { type: f.type, dims: f.dims, data: f.type === 'int64' ? BigInt64Array.from(f.data.map(BigInt)) : ARRAYS[f.type].from(f.data) };
  const plain = await model.run(inputs);
  const acts = await model.capture(inputs, { layers: ['values', 'modules'], inputs: true, float32: true });
  const tensors = {};
  for (const [key, t] of acts) tensors[key] = plainOf(t);
  const outputs = {};
  for (const [key, t] of Object.entries(acts.outputs)) outputs[key] = plainOf(t);
  const plainOut = {};
  for (const [key, t] of Object.entries(plain)) plainOut[key] = plainOf(t);
  await model.release();
  return { tensors, reported: acts.notObservable.map((u) => u.module ?? u.key), outputs, plain: plainOut };
};`;

type Plain = { type: string; dims: number[]; data: number[]; ctor: string };
interface PageResult {
  tensors: Record<string, Plain>;
  reported: string[];
  outputs: Record<string, Plain>;
  plain: Record<string, Plain>;
}

function fromPage(r: PageResult): RuntimeResult {
  return {
    tensors: new Map(Object.entries(r.tensors)),
    reported: new Set(r.reported),
    outputs: r.outputs,
    plain: r.plain,
  };
}

describe('the web entry in Chromium gives what onnxruntime-node gives', { skip, timeout: 180_000 }, () => {
  let host: PageHost;

  before(async () => {
    const copyModels = (dir: string) =>
      BROWSER_SET.forEach((name, i) => copyFileSync(webCase(name).path, join(dir, `model-${i}.onnx`)));
    host = await hostPage('neurotap-web-runtime-', 'runtime', PAGE_SCRIPT, webCase(BROWSER_SET[0]).path, copyModels);
  });

  after(() => host?.close());

  BROWSER_SET.forEach((name, i) =>
    it(name, async () => {
      const c = webCase(name);
      const page = await host.browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(new URL('runtime.html', host.server.url).href);
      await page.waitForFunction(() => 'runCase' in window);
      const feeds = Object.fromEntries(
        Object.entries(
          c.feeds as Record<string, { type: string; dims: readonly number[]; data: ArrayLike<number> }>,
        ).map(([k, t]) => [k, { type: t.type, dims: [...t.dims], data: Array.from(t.data, Number) }]),
      );
      const got = await page.evaluate(
        (args) =>
          (window as unknown as { runCase(...a: unknown[]): Promise<PageResult> }).runCase(...(args as unknown[])),
        [new URL(`model-${i}.onnx`, host.server.url).href, feeds] as unknown[],
      );
      await page.close();
      // float16 comes back as documented, Uint16Array bit patterns (Chromium's ORT returns Float16Array).
      for (const [out, t] of Object.entries(got.plain))
        if (t.type === 'float16') assert.equal(t.ctor, 'Uint16Array', `${name}: output ${out}'s data`);
      assert.deepEqual(problems, []);
      const node = await runOn(await loadNode(c.path), c.feeds);
      assert.ok(Object.keys(got.tensors).length > 0, `${name}: nothing captured in the browser`);
      assertSameAsNode(`chromium ${name}`, fromPage(got), node, c.rtol);
    }),
  );
});
