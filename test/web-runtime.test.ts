/**
 * The same tensors on onnxruntime-web (WASM) as on onnxruntime-node: the web entry (src/web.ts) run
 * in Node on a representative set of fixtures (QDQ, torch.ao quantized, fake-quantized, fp16, Loop
 * and If, LSTM/GRU, local functions, a transformer). Each web key is a Node key with the same value,
 * each Node key the web lacks is reported on the web with a reason, every key equals PyTorch's hook
 * where the fixture has goldens, and the model's outputs under capture equal the plain web run. A QDQ
 * model on the web keeps its integer kernels (capture/qdq-groups.ts), as Node's optimised base does.
 * Chromium runs a smaller set: test/web-browser.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadModel as loadNode } from '../src/node/index.js';
import { loadModel as loadWeb } from '../src/web.js';
import { assertMatchesGoldens, INVISIBLE } from './helpers/fixtures.js';
import { assertSameAsNode, runOn, WEB_SET, webCase } from './helpers/runtimes.js';

describe('onnxruntime-web (WASM) in Node gives what onnxruntime-node gives', () => {
  for (const name of WEB_SET)
    it(name, async () => {
      const c = webCase(name);
      const bytes = new Uint8Array(readFileSync(c.path));
      const web = await runOn(await loadWeb(bytes), c.feeds);
      const node = await runOn(await loadNode(c.path), c.feeds);
      assertSameAsNode(name, web, node, c.rtol);
      if (c.golden) {
        const model = await loadWeb(bytes);
        const acts = await model.capture(c.feeds, { layers: 'modules', inputs: true });
        assertMatchesGoldens(acts, c.golden, `web ${name}`, INVISIBLE[name]);
        await model.release();
      }
    });
});

describe("onnxruntime-web's 'wasm' provider is its CPU one", () => {
  it("a QDQ model loaded with executionProviders ['wasm'] keeps its integer kernels under capture", async () => {
    const c = webCase('fused-qdq');
    const web = await runOn(
      await loadWeb(new Uint8Array(readFileSync(c.path)), { executionProviders: ['wasm'] }),
      c.feeds,
    );
    assertSameAsNode('fused-qdq on wasm', web, await runOn(await loadNode(c.path), c.feeds), c.rtol);
  });
});
