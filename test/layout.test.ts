/**
 * The folder rules of docs/architecture.md, checked on the sources: only src/node/ and src/cli/
 * import `node:` modules or onnxruntime-node; onnxruntime-web is named only by the web entry; library
 * messages name no CLI flag; and `neurotap/dataset` loads sharp only when an image is read (a dynamic
 * import), never on import.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import * as esbuild from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every module specifier a file imports or re-exports, statically or dynamically. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])([^'"]+)\1/gm;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) found.push(m[2]);
  return found;
}

describe('layout', () => {
  const files = sources(SRC).map((path) => ({
    path: relative(ROOT, path),
    imports: specifiers(readFileSync(path, 'utf8')),
  }));
  const isomorphic = files.filter((f) => !/^src\/(node|cli)\//.test(f.path));

  it('finds the imports it checks (the scan itself works)', () => {
    const entry = files.find((f) => f.path === 'src/node/index.ts');
    assert.ok(entry?.imports.includes('onnxruntime-node'), 'the Node entry imports onnxruntime-node');
    assert.ok(isomorphic.length > 40, `${isomorphic.length} isomorphic files`);
  });

  it('outside src/node/ and src/cli/, nothing imports node: modules or onnxruntime-node', () => {
    const bad = isomorphic.flatMap((f) =>
      f.imports.filter((s) => s.startsWith('node:') || s.startsWith('onnxruntime-node')).map((s) => `${f.path}: ${s}`),
    );
    assert.deepEqual(bad, []);
  });

  it('only the web entry names onnxruntime-web, and nothing outside src/node/ imports src/node/', () => {
    const web = files.flatMap((f) => f.imports.filter((s) => s.startsWith('onnxruntime-web')).map(() => f.path));
    assert.deepEqual([...new Set(web)], ['src/web.ts']);
    const intoNode = isomorphic.flatMap((f) =>
      f.imports.filter((s) => /(^|\/)node\//.test(s)).map((s) => `${f.path}: ${s}`),
    );
    assert.deepEqual(intoNode, []);
  });

  it('library code (everything but src/cli/) names no CLI flag in its messages and hints', () => {
    const flag = /(^|[\s'"`(])--[a-z][a-z-]+/;
    const bad = files
      .filter((f) => !f.path.startsWith('src/cli/'))
      .flatMap((f) =>
        readFileSync(join(ROOT, f.path), 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${f.path}:${i + 1}` }))
          .filter(({ line }) => !/^\s*(\*|\/\/|\/\*)/.test(line) && flag.test(line.replace(/\/\/.*$/, ''))),
      )
      .map(({ at }) => at);
    assert.deepEqual(bad, []);
  });

  it('importing neurotap/dataset does not load sharp (it is imported on the first image)', async () => {
    const result = await esbuild.build({
      entryPoints: [join(SRC, 'node', 'dataset', 'index.ts')],
      bundle: true,
      platform: 'node',
      absWorkingDir: ROOT,
      format: 'esm',
      write: false,
      metafile: true,
      packages: 'external',
      logLevel: 'silent',
    });
    const inputs = result.metafile.inputs;
    const staticImports = (file: string) =>
      (inputs[file]?.imports ?? []).filter((i) => i.kind === 'import-statement').map((i) => i.path);
    const reached = new Set<string>();
    const walk = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const next of staticImports(file)) walk(next);
    };
    walk('src/node/dataset/index.ts');
    assert.ok(reached.has('src/node/image.ts'), 'the image reader is part of the data-set entry');
    assert.ok(!reached.has('sharp'), 'sharp is imported statically');
    const dynamic = (inputs['src/node/image.ts']?.imports ?? []).filter((i) => i.path === 'sharp');
    assert.deepEqual(
      dynamic.map((i) => i.kind),
      ['dynamic-import'],
    );
  });
});
