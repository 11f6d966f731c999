/**
 * Builds the viewer (viewer/*.ts bundled by esbuild) into a folder of static files. `neurotap view`
 * serves that folder; `npm run build:viewer` also copies ONNX Runtime's WASM and the digits demo
 * into it, so the folder works from any static host, where a user drops any .onnx file.
 *
 * ```ts
 * await buildViewer({ outDir: 'dist/viewer', standalone: true });
 * ```
 */
import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NeurotapError } from '../errors.js';
import { writeFileAtomic } from '../node/files.js';

/** The package root: src/cli and dist/cli both sit two levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_VIEWER_DIR = join(PACKAGE_ROOT, 'dist', 'viewer');
export const VIEWER_SOURCES = join(PACKAGE_ROOT, 'viewer');
export const DEMO_MODEL = join(PACKAGE_ROOT, 'fixtures', 'digits-cnn.onnx');
export const DEMO_SAMPLES = join(PACKAGE_ROOT, 'fixtures', 'digits');
/** The sample the demo page starts from. */
export const DEMO_DEFAULT_SAMPLE = 'digit-3';
/** The ONNX Runtime files the WASM build fetches at run time. */
export const ORT_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs'];

export interface BuildViewerOptions {
  /** Default: dist/viewer in the package. */
  outDir?: string;
  /** Also copy ONNX Runtime's WASM, the demo model and its samples, and write config.json. */
  standalone?: boolean;
  minify?: boolean;
}

/** The folder holding ONNX Runtime Web's .wasm and .mjs files, in node_modules. */
export function ortDistDir(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

export interface DemoSample {
  readonly name: string;
  readonly file: string;
  readonly label: number;
}

/** The bundled sample digits (the .npy files), in label order. */
export async function demoSamples(): Promise<DemoSample[]> {
  const labels = JSON.parse(await readFile(join(DEMO_SAMPLES, 'labels.json'), 'utf8')) as Record<
    string,
    { label: number }
  >;
  return Object.entries(labels)
    .filter(([file]) => file.endsWith('.npy'))
    .map(([file, { label }]) => ({ name: file.replace(/\.npy$/, ''), file, label }))
    .sort((a, b) => a.label - b.label);
}

/** Bundles the page and the worker, copies the HTML and CSS; returns the files written. */
export async function buildViewer(options: BuildViewerOptions = {}): Promise<string[]> {
  const outDir = options.outDir ?? DEFAULT_VIEWER_DIR;
  const esbuild = await import('esbuild').catch((cause) => {
    throw new NeurotapError('E_FILE_NOT_FOUND', 'Building the viewer needs esbuild, which is not installed.', {
      hint: 'Run npm install in the neurotap repository.',
      cause,
    });
  });
  await mkdir(outDir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: join(VIEWER_SOURCES, 'main.ts'), worker: join(VIEWER_SOURCES, 'worker.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: 'linked',
    logLevel: 'silent',
    metafile: true,
  });
  const files = Object.keys(result.metafile.outputs);
  for (const asset of ['index.html', 'style.css']) files.push(await copyInto(join(VIEWER_SOURCES, asset), outDir));
  if (options.standalone) files.push(...(await copyStandalone(outDir)));
  return files;
}

async function copyInto(file: string, dir: string, name = file.split(/[\\/]/).pop()!): Promise<string> {
  await mkdir(dir, { recursive: true });
  const target = join(dir, name);
  await copyFile(file, target);
  return target;
}

async function copyStandalone(outDir: string): Promise<string[]> {
  const files: string[] = [];
  for (const file of ORT_FILES) files.push(await copyInto(join(ortDistDir(), file), join(outDir, 'ort')));
  files.push(await copyInto(DEMO_MODEL, join(outDir, 'demo')));
  const samples = await demoSamples();
  for (const s of samples) files.push(await copyInto(join(DEMO_SAMPLES, s.file), join(outDir, 'demo')));
  const config = {
    model: { url: 'demo/digits-cnn.onnx' },
    wasmPaths: 'ort/',
    defaultSample: DEMO_DEFAULT_SAMPLE,
    samples: samples.map((s) => ({ ...s, url: `demo/${s.file}` })),
  };
  const path = join(outDir, 'config.json');
  await writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  return [...files, path];
}

async function newestIn(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestIn(path) : (await stat(path)).mtimeMs);
  }
  return newest;
}

/**
 * The viewer folder to serve: rebuilt first when the viewer's sources are here (a checkout) and
 * newer than the build; an installed package serves the folder it shipped with.
 */
export async function ensureViewerBuilt(outDir = DEFAULT_VIEWER_DIR): Promise<string> {
  const built = await stat(join(outDir, 'app.js')).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const hasSources = await stat(join(VIEWER_SOURCES, 'main.ts')).then(
    () => true,
    () => false,
  );
  if (hasSources) {
    const sources = Math.max(await newestIn(VIEWER_SOURCES), await newestIn(join(PACKAGE_ROOT, 'src')));
    if (sources > built) await buildViewer({ outDir });
    return outDir;
  }
  if (!built) {
    throw new NeurotapError('E_FILE_NOT_FOUND', `The viewer is not built (no ${join(outDir, 'app.js')}).`, {
      hint: 'Run `npm run build:viewer` in the neurotap repository.',
    });
  }
  return outDir;
}
