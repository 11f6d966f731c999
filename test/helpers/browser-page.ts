/** Pages for the Chromium tests: a module script bundled for the browser, served from a folder. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { startViewerServer, type ViewerServer } from '../../src/cli/view-server.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Writes `<name>.js` (the script bundled, its imports resolved from the repository) and `<name>.html` loading it. */
export async function writeModulePage(dir: string, name: string, script: string): Promise<void> {
  await esbuild.build({
    stdin: { contents: script, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: join(dir, `${name}.js`),
    logLevel: 'silent',
  });
  writeFileSync(
    join(dir, `${name}.html`),
    `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="${name}.js"></script>`,
  );
}

export const CHROMIUM = '/usr/bin/chromium';

export interface PageHost {
  readonly dir: string;
  readonly server: ViewerServer;
  readonly browser: Browser;
  close(): Promise<void>;
}

/**
 * A temporary folder with the page (and what `prepare` copies there), the viewer's server on it
 * (which also serves onnxruntime-web's files under /ort/), and Debian's Chromium, headless.
 */
export async function hostPage(
  prefix: string,
  name: string,
  script: string,
  modelPath: string,
  prepare?: (dir: string) => void,
): Promise<PageHost> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  await writeModulePage(dir, name, script);
  prepare?.(dir);
  const server = await startViewerServer({ modelPath, assetsDir: dir, port: 0 });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  return {
    dir,
    server,
    browser,
    async close() {
      await browser.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
