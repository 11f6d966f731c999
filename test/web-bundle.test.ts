/**
 * The browser entry and the core never pull in Node: each is bundled by esbuild for the browser
 * (onnxruntime-web left external, as an app bundling neurotap would resolve it) and the bundle
 * must not name onnxruntime-node or any `node:` module. The viewer's page and worker bundle too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as esbuild from 'esbuild';

const ROOT = join(import.meta.dirname, '..');

async function bundle(
  entry: string,
  external: string[] = ['onnxruntime-web'],
): Promise<{ text: string; inputs: string[] }> {
  const result = await esbuild.build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    external,
    logLevel: 'silent',
  });
  return { text: result.outputFiles.map((f) => f.text).join('\n'), inputs: Object.keys(result.metafile.inputs) };
}

/** `node:` as a module specifier (in quotes), not the text of an object key such as `{ node: n }`. */
const NODE_SPECIFIER = /["'`]node:[a-z_/]+["'`]/;

function assertBrowserSafe(name: string, { text, inputs }: { text: string; inputs: string[] }): void {
  assert.ok(!text.includes('onnxruntime-node'), `${name} mentions onnxruntime-node`);
  assert.doesNotMatch(text, NODE_SPECIFIER, `${name} imports a node: module`);
  assert.deepEqual(
    inputs.filter((p) => p.includes('onnxruntime-node') || p.startsWith('node:')),
    [],
    `${name} bundles Node-only modules`,
  );
}

describe('browser bundles', () => {
  it('src/web.ts bundles for the browser without Node', async () => {
    const result = await bundle('src/web.ts');
    assertBrowserSafe('src/web.ts', result);
    assert.match(
      result.text,
      /import\(["']onnxruntime-web\/wasm["']\)/,
      'the web entry imports onnxruntime-web on first use',
    );
    assert.match(result.text, /export\s*\{[^}]*\bloadModel\b/, 'the web entry exports loadModel');
  });

  it('src/index.ts (the core) bundles without any onnxruntime package', async () => {
    const result = await bundle('src/index.ts', []);
    assertBrowserSafe('src/index.ts', result);
    assert.ok(!result.text.includes('onnxruntime-web'), 'the core must not import onnxruntime-web either');
  });

  it('the viewer page and its worker bundle without Node (onnxruntime-web included)', async () => {
    for (const entry of ['viewer/main.ts', 'viewer/worker.ts']) {
      // onnxruntime-web's own code names node:os behind a browser check, so only the inputs are checked here.
      const { text, inputs } = await bundle(entry, []);
      assert.ok(!text.includes('onnxruntime-node'), `${entry} mentions onnxruntime-node`);
      assert.deepEqual(
        inputs.filter((p) => p.includes('onnxruntime-node') || p.startsWith('node:') || p.includes('src/node/')),
        [],
        `${entry} bundles Node-only modules`,
      );
    }
  });

  it('the check itself catches a Node import', async () => {
    await assert.rejects(bundle('src/node/index.ts'), /Could not resolve|node:/);
  });
});
