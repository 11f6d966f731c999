/**
 * `neurotap view` as users run it: a child process that prints its URL (JSON with --json), serves
 * the page, the model's bytes, the demo samples and ONNX Runtime's WASM on loopback only, refuses
 * paths outside its folders, reports bad arguments with codes, and exits cleanly on Ctrl-C.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openerFor } from '../src/cli/view-open.js';
import { cliJsonFromBuild, ensureBuilt } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'neurotap.js');
const DIGITS = join(ROOT, 'fixtures', 'digits-cnn.onnx');

interface Started {
  child: ChildProcess;
  url: string;
}

/** Starts `neurotap view ...` and resolves with the URL from its first line of output. */
function startView(...args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [BIN, 'view', ...args, '--json', '--no-open'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, url: JSON.parse(out.split('\n')[0]).url });
    });
    child.stderr!.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) => reject(new Error(`neurotap view exited with ${code}: ${out}${err}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** GET with a chosen Host header (fetch cannot set one): the status and any CORS header. */
function getWithHost(base: string, path: string, host: string): Promise<{ status: number; cors: unknown }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers: { host } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, cors: res.headers['access-control-allow-origin'] });
    });
    req.on('error', reject);
    req.end();
  });
}

const cliJson = (...args: string[]) => cliJsonFromBuild(args);

describe('neurotap view', () => {
  let demo: Started;

  before(async () => {
    ensureBuilt();
    demo = await startView('--port', '0');
  });

  after(() => {
    if (demo?.child.exitCode === null) demo.child.kill('SIGKILL');
  });

  it('prints a loopback URL and serves the page with the bundled digits model', async () => {
    assert.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+\/[\w-]{24}\/$/);
    const page = await fetch(demo.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="app\.js">/);
    const config = await (await fetch(new URL('config.json', demo.url))).json();
    assert.equal(config.samples.length, 10);
    assert.equal(config.defaultSample, 'digit-3');
    const model = new Uint8Array(await (await fetch(new URL(config.model.url, demo.url))).arrayBuffer());
    assert.deepEqual(model, new Uint8Array(readFileSync(DIGITS)));
    const sample = await fetch(new URL(config.samples[3].url, demo.url));
    assert.equal(sample.status, 200);
  });

  it('serves the page script, the worker and ONNX Runtime WASM', async () => {
    for (const path of ['app.js', 'worker.js', 'style.css'])
      assert.equal((await fetch(new URL(path, demo.url))).status, 200, path);
    const wasm = await fetch(new URL('ort/ort-wasm-simd-threaded.wasm', demo.url), { method: 'HEAD' });
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  });

  it('refuses paths outside its folders and anything but GET', async () => {
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/demo/../../package.json',
      '/ort/../package.json',
      '/nope.js',
    ]) {
      assert.equal((await fetch(new URL(path, demo.url))).status, 404, path);
    }
    assert.equal((await fetch(demo.url, { method: 'POST' })).status, 405);
    assert.equal((await fetch(new URL('/%E0%A4%A', demo.url))).status, 400);
  });

  it('answers only its own loopback Host names, so a rebound DNS name cannot read the model', async () => {
    const port = new URL(demo.url).port;
    const model = new URL('model/digits-cnn.onnx', demo.url).pathname;
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1:1', `127.0.0.1.evil.example:${port}`])
      assert.deepEqual(await getWithHost(demo.url, model, host), { status: 403, cors: undefined }, host);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`])
      assert.deepEqual(await getWithHost(demo.url, model, host), { status: 200, cors: undefined }, host);
  });

  it('serves the model, config and samples only under the per-run token in its URL', async () => {
    const root = new URL('/', demo.url);
    for (const path of ['config.json', 'model/digits-cnn.onnx', 'demo/digit-3.npy'])
      assert.equal((await fetch(new URL(path, root))).status, 403, path);
    const wrong = new URL(`/${'A'.repeat(24)}/model/digits-cnn.onnx`, root);
    assert.equal((await fetch(wrong)).status, 404);
    // The viewer's code and ONNX Runtime hold nothing of the user's: served either way.
    assert.equal((await fetch(new URL('app.js', root))).status, 200);
    const bare = await fetch(demo.url.slice(0, -1), { redirect: 'manual' });
    assert.deepEqual([bare.status, bare.headers.get('location')], [308, new URL(demo.url).pathname]);
    const other = await startView('--port', '0');
    try {
      assert.notEqual(new URL(other.url).pathname, new URL(demo.url).pathname, 'a new token per run');
    } finally {
      other.child.kill('SIGKILL');
    }
  });

  it('stops on SIGINT with exit code 0', async () => {
    const { child } = await startView(join(ROOT, 'fixtures', 'rnn', 'model.onnx'), '--port', '0');
    const exited = exitCode(child);
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  });

  it('gives other models no samples, so the page starts from random inputs', async () => {
    const rnn = await startView(join(ROOT, 'fixtures', 'rnn', 'model.onnx'), '--port', '0');
    try {
      const config = await (await fetch(new URL('config.json', rnn.url))).json();
      assert.deepEqual(config.samples, []);
      assert.match(config.model.url, /model\.onnx$/);
    } finally {
      rnn.child.kill('SIGINT');
    }
  });

  it('reports bad arguments with codes and exit code 2', async () => {
    const missing = await cliJson('view', 'no/such/model.onnx', '--no-open');
    assert.deepEqual([missing.code, missing.body.error.code], [2, 'E_FILE_NOT_FOUND']);
    const notOnnx = await cliJson('view', join(ROOT, 'package.json'), '--no-open');
    assert.deepEqual([notOnnx.code, notOnnx.body.error.code], [2, 'E_NOT_ONNX']);
    const badPort = await cliJson('view', '--port', '70000', '--no-open');
    assert.deepEqual([badPort.code, badPort.body.error.code], [2, 'E_BAD_ARGUMENT']);
    const extra = await cliJson('view', DIGITS, 'extra.npy', '--no-open');
    assert.deepEqual([extra.code, extra.body.error.code], [2, 'E_BAD_ARGUMENT']);
  });

  it('says so when an explicit port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const taken = await cliJson('view', '--port', String(port), '--no-open');
      assert.deepEqual([taken.code, taken.body.error.code], [2, 'E_BAD_ARGUMENT']);
      assert.match(taken.body.error.message, /in use/);
    } finally {
      blocker.close();
    }
  });

  it('opens a browser only where something can show it', () => {
    assert.equal(openerFor('linux', { PATH: '/usr/bin' }), undefined);
    assert.equal(openerFor('darwin', {})?.command, 'open');
    assert.equal(openerFor('linux', { DISPLAY: ':0', PATH: '' }), undefined);
  });
});
