/**
 * The `recomputed` mark in saved files: keys a fused GroupQueryAttention's probabilities were
 * recomputed for (fixtures/hf-llama-gqa/model.gqa.onnx) say so in safetensors' `__metadata__`, an
 * `.npz`'s `__metadata__` member and the data-set store (Zarr attributes, manifest, `ls`), and
 * neurotap reads the mark back (`compare` against such a file); keys read from the graph carry none.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Feeds } from '../src/capture/feeds.js';
import { RECOMPUTED_METADATA, recomputedOf } from '../src/capture/recomputed-marks.js';
import { encodeNpz, parseNpz, takeNpzMetadata } from '../src/formats/npz.js';
import { parseSafetensors } from '../src/formats/safetensors.js';
import { arraySource, writeDataset } from '../src/node/dataset/index.js';
import { listStore } from '../src/node/dataset/list-store.js';
import { loadModel } from '../src/node/index.js';
import type { HostTensor } from '../src/tensor.js';
import { cli } from './helpers/dataset.js';
import { FIXTURES } from './helpers/fixtures.js';

const DIR = join(FIXTURES, 'hf-llama-gqa');
const GQA = join(DIR, 'model.gqa.onnx');
const tmp = mkdtempSync(join(tmpdir(), 'neurotap-recomputed-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ids = parseNpz(new Uint8Array(readFileSync(join(DIR, 'input.npz')))).get('input_ids')!;
function feeds(): Record<string, HostTensor> {
  const f: Record<string, HostTensor> = {
    input_ids: ids,
    attention_mask: { type: 'int64', dims: [2, 6], data: new BigInt64Array(12).fill(1n) },
  };
  for (const i of [0, 1])
    for (const kv of ['key', 'value'])
      f[`past_key_values.${i}.${kv}`] = { type: 'float32', dims: [2, 2, 0, 16], data: new Float32Array(0) };
  return f;
}
const marksOf = (metadata: Record<string, string>) => Object.keys(recomputedOf(metadata)).sort();

describe('the recomputed mark in saved files', () => {
  it('acts.save and extract --out write it into .safetensors and .npz; plain keys carry none', async () => {
    const model = await loadModel(GQA);
    const acts = await model.capture(feeds() as Feeds, { layers: ['hidden_states', 'attentions'] });
    await acts.save(join(tmp, 'acts.safetensors'));
    await acts.save(join(tmp, 'acts.npz'));
    await model.release();
    const safetensors = parseSafetensors(new Uint8Array(readFileSync(join(tmp, 'acts.safetensors'))));
    assert.deepEqual(marksOf(safetensors.metadata), ['attentions.0', 'attentions.1']);
    assert.match(recomputedOf(safetensors.metadata)['attentions.0'], /GroupQueryAttention/);
    const npz = parseNpz(new Uint8Array(readFileSync(join(tmp, 'acts.npz'))));
    assert.equal(npz.get('__metadata__')?.type, 'uint8');
    assert.deepEqual(marksOf(takeNpzMetadata(npz)), ['attentions.0', 'attentions.1']);
    assert.ok(!npz.has('__metadata__') && npz.has('attentions.0') && npz.has('hidden_states.0'));

    // The CLI: extract --out does the same; a capture with nothing recomputed writes no metadata.
    writeFileSync(join(tmp, 'in.npz'), encodeNpz(Object.entries(feeds())));
    const out = join(tmp, 'cli.npz');
    const run = await cli('extract', GQA, '--input', join(tmp, 'in.npz'), '--layers', 'attentions', '--out', out);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(marksOf(takeNpzMetadata(parseNpz(new Uint8Array(readFileSync(out))))), [
      'attentions.0',
      'attentions.1',
    ]);
    const plainOut = join(tmp, 'plain.safetensors');
    const plain = await cli(
      'extract',
      join(DIR, 'model.onnx'),
      '--input',
      join(DIR, 'input.npz'),
      '--layers',
      'attentions',
      '--out',
      plainOut,
    );
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(parseSafetensors(new Uint8Array(readFileSync(plainOut))).metadata, {});

    // compare reads the mark back from the reference file, and says which keys A recomputed.
    const cmp = await cli('compare', GQA, out, '--input', join(tmp, 'in.npz'), '--layers', 'attentions', '--json');
    assert.equal(cmp.code, 0, cmp.stderr);
    const report = JSON.parse(cmp.stdout) as { recomputed: { a: Record<string, string>; b: Record<string, string> } };
    assert.deepEqual(Object.keys(report.recomputed.b).sort(), ['attentions.0', 'attentions.1']);
    assert.deepEqual(Object.keys(report.recomputed.a).sort(), ['attentions.0', 'attentions.1']);
    const text = await cli('compare', GQA, out, '--input', join(tmp, 'in.npz'), '--layers', 'attentions');
    assert.match(text.stdout, /recomputed in B \(not read from the graph\): attentions\.0, attentions\.1/);
  });

  it('a data-set store records it in each recomputed array and the manifest; ls lists it', async () => {
    const model = await loadModel(GQA);
    const store = join(tmp, 'acts.zarr');
    await writeDataset(model, arraySource(feeds()), store, { batchSize: 2, chunkSize: 2, layers: ['attentions'] });
    await model.release();
    const listing = await listStore(store);
    const marked = listing.keys.filter((k) => k.recomputed).map((k) => k.key);
    assert.deepEqual(marked.sort(), ['attentions.0', 'attentions.1']);
    const key = listing.keys.find((k) => k.key === 'attentions.0')!;
    const attrs = JSON.parse(readFileSync(join(store, key.array, 'zarr.json'), 'utf8')).attributes;
    assert.match(attrs.recomputed, /GroupQueryAttention/);
    const output = listing.keys.find((k) => k.key.startsWith('output:'))!;
    assert.equal(
      JSON.parse(readFileSync(join(store, output.array, 'zarr.json'), 'utf8')).attributes.recomputed,
      undefined,
    );
    const ls = await cli('ls', store);
    assert.match(ls.stdout, /recomputed \(not read from the graph\): attentions\.0, attentions\.1/);
    assert.equal(RECOMPUTED_METADATA, 'neurotap.recomputed');
  });
});
