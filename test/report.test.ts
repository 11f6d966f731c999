/**
 * `neurotap report` as users run it (bin/neurotap.js in a child process): one self-contained HTML
 * file with every captured layer, its pictures embedded, nothing fetched from anywhere; errors
 * with codes before anything is written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { cliJsonFromBuild, ensureBuilt } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const DIGITS = join(ROOT, 'fixtures', 'digits-cnn.onnx');
const RNN = join(ROOT, 'fixtures', 'rnn', 'model.onnx');

const report = (...args: string[]) => cliJsonFromBuild(['report', ...args]);

/** Every src/href value in the document. */
function references(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)].map((m) => m[1]);
}

function assertSelfContained(html: string): void {
  for (const ref of references(html))
    assert.ok(ref.startsWith('data:') || ref.startsWith('#'), `external reference ${ref.slice(0, 80)}`);
  assert.doesNotMatch(html, /https?:\/\//i, 'no URL at all');
  assert.doesNotMatch(html, /@import|url\(/i, 'no CSS fetches');
}

describe('neurotap report', () => {
  let dir: string;

  before(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'neurotap-report-'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one self-contained HTML file with every layer of the digits model', async () => {
    const out = join(dir, 'digits.html');
    const run = await report(DIGITS, '--input', join(ROOT, 'fixtures', 'digits', 'digit-3.npy'), '--out', out);
    assert.equal(run.code, 0, JSON.stringify(run.body));
    const keys = ['conv1', 'relu1', 'conv2', 'relu2', 'pool', 'flatten', 'fc1', 'relu3', 'fc2'];
    assert.deepEqual(run.body.layers, keys);
    const html = readFileSync(out, 'utf8');
    assert.equal(run.body.bytes, Buffer.byteLength(html));
    assertSelfContained(html);
    for (const key of keys) assert.ok(html.includes(`data-key="${key}"`), `layer ${key}`);
    assert.match(html, /data-prediction="3"/);
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')), 'no temporary file left');
  });

  it('embeds real PNG pictures the size the page says', async () => {
    const html = readFileSync(join(dir, 'digits.html'), 'utf8');
    const figures = [
      ...html.matchAll(/<img class="figure" src="data:image\/png;base64,([^"]+)" width="(\d+)" height="(\d+)"/g),
    ];
    assert.equal(figures.length, 9);
    for (const [, data, width, height] of figures) {
      const meta = await sharp(Buffer.from(data, 'base64')).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', Number(width), Number(height)]);
    }
  });

  it('draws sequences of a recurrent model from random inputs, tuple outputs included', async () => {
    const out = join(dir, 'rnn.html');
    const run = await report(RNN, '--random', '--dim', 'time=12', '--seed', '3', '--out', out);
    assert.equal(run.code, 0, JSON.stringify(run.body));
    const html = readFileSync(out, 'utf8');
    assertSelfContained(html);
    for (const key of run.body.layers) assert.ok(html.includes(`data-key="${key}"`), `layer ${key}`);
    assert.ok(run.body.layers.includes('lstm#1#0'));
    assert.match(html, /12 steps \(rows\)/);
    assert.match(html, /random normal values \(seed 3\)/);
  });

  it('captures only the layers asked for', async () => {
    const out = join(dir, 'some.html');
    const run = await report(DIGITS, '--random', '--layers', 'conv1,fc2', '--out', out);
    assert.deepEqual(run.body.layers, ['conv1', 'fc2']);
    assert.ok(!readFileSync(out, 'utf8').includes('data-key="relu1"'));
  });

  it('fails with a code, and writes nothing, on bad arguments', async () => {
    const cases: [string[], string][] = [
      [[DIGITS, '--random'], 'E_BAD_ARGUMENT'],
      [[DIGITS, '--out', join(dir, 'x.html')], 'E_BAD_ARGUMENT'],
      [[DIGITS, '--random', '--out', join(dir, 'x.txt')], 'E_OUTPUT_PATH'],
      [[DIGITS, '--random', '--out', join(dir, 'missing', 'x.html')], 'E_OUTPUT_PATH'],
      [[DIGITS, '--random', '--layers', 'conv9', '--out', join(dir, 'x.html')], 'E_UNKNOWN_LAYER'],
      [[join(dir, 'nope.onnx'), '--random', '--out', join(dir, 'x.html')], 'E_FILE_NOT_FOUND'],
      [
        [DIGITS, '--input', join(ROOT, 'fixtures', 'digits', 'labels.json'), '--out', join(dir, 'x.html')],
        'E_BAD_FILE',
      ],
    ];
    for (const [args, code] of cases) {
      const run = await report(...args);
      assert.deepEqual([run.code, run.body.error?.code], [2, code], args.join(' '));
    }
    assert.ok(!existsSync(join(dir, 'x.html')));
  });
});
