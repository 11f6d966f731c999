/**
 * What every DatasetStore must do, as one test suite that each back end runs on its own store
 * (the local directory here; object storage in its own test file): whole objects under keys,
 * listing by prefix, deletion, and sync.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { DatasetStore } from '../../src/node/dataset/dataset-store.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** Registers the contract's cases; `fresh` gives an empty store each time. */
export function storeContract(fresh: () => Promise<DatasetStore>): void {
  it('puts whole objects (parts concatenated) and gets them back; an absent key is undefined', async () => {
    const store = await fresh();
    await store.put('zarr.json', bytes('{}'));
    await store.put('conv1/c.0.0', [bytes('ab'), bytes('cd')]);
    await store.put('conv1/c.0.0', bytes('replaced'));
    await store.sync();
    assert.equal(text(await store.get('zarr.json')), '{}');
    assert.equal(text(await store.get('conv1/c.0.0')), 'replaced');
    assert.equal(await store.get('conv1/c.1.0'), undefined);
    assert.equal(await store.get('nothing/here.json'), undefined);
  });

  it('lists every key under a prefix, recursively, and nothing of an empty store', async () => {
    const store = await fresh();
    assert.deepEqual(await store.list(''), []);
    for (const key of ['zarr.json', 'a/zarr.json', 'a/c.0', 'ab/c.0', '.neurotap/chunks/0.json'])
      await store.put(key, bytes(key));
    assert.deepEqual((await store.list('')).sort(), [
      '.neurotap/chunks/0.json',
      'a/c.0',
      'a/zarr.json',
      'ab/c.0',
      'zarr.json',
    ]);
    assert.deepEqual((await store.list('a/')).sort(), ['a/c.0', 'a/zarr.json']);
    assert.deepEqual(await store.list('.neurotap/chunks/'), ['.neurotap/chunks/0.json']);
    assert.deepEqual(await store.list('missing/'), []);
    assert.deepEqual(await store.leftovers(), []);
  });

  it('deletes objects (absent ones are no error)', async () => {
    const store = await fresh();
    await store.put('a/c.0', bytes('x'));
    await store.put('b/c.0', bytes('y'));
    await store.delete(['a/c.0', 'a/c.9']);
    assert.deepEqual(await store.list(''), ['b/c.0']);
    assert.equal(await store.get('a/c.0'), undefined);
  });
}
