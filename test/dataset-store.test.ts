/**
 * The local-directory DatasetStore: the store contract, plus what only a directory has (temporary
 * files of killed writers are leftovers, never listed; a file where the store should be is refused).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isNeurotapError } from '../src/errors.js';
import { FileDatasetStore } from '../src/node/dataset/file-store.js';
import { openDatasetStore } from '../src/node/dataset/open-store.js';
import { storeContract } from './helpers/store-contract.js';

const tmp = mkdtempSync(join(tmpdir(), 'neurotap-store-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

describe('FileDatasetStore', () => {
  storeContract(async () => new FileDatasetStore(join(tmp, `s${n++}.zarr`)));

  it('reports temporary files as leftovers, not keys, and removes only stale ones', async () => {
    const root = join(tmp, 'temps.zarr');
    const store = new FileDatasetStore(root);
    await store.put('a/c.0', new Uint8Array([1]));
    mkdirSync(join(root, 'a'), { recursive: true });
    writeFileSync(join(root, 'a', 'c.1.0123456789ab.tmp'), 'partial');
    writeFileSync(join(root, 'a', 'c.2.0123456789ac.tmp'), 'fresh');
    const old = new Date(Date.now() - 3600_000);
    utimesSync(join(root, 'a', 'c.1.0123456789ab.tmp'), old, old);
    assert.deepEqual(await store.list(''), ['a/c.0']);
    assert.deepEqual(await store.leftovers(), ['a/c.1.0123456789ab.tmp', 'a/c.2.0123456789ac.tmp']);
    assert.deepEqual(await store.removeStaleLeftovers(), ['a/c.1.0123456789ab.tmp']);
    assert.deepEqual(await store.leftovers(), ['a/c.2.0123456789ac.tmp']);
  });

  it('refuses a file where the store should be (E_OUTPUT_PATH), and opens paths, not URLs', async () => {
    const file = join(tmp, 'file.zarr');
    writeFileSync(file, 'not a store');
    const store = openDatasetStore(file);
    assert.equal(await store.get('zarr.json'), undefined);
    await assert.rejects(store.list(''), (e) => isNeurotapError(e, 'E_OUTPUT_PATH') && /it is a file/.test(e.message));
    assert.throws(
      () => openDatasetStore('gs://bucket/acts.zarr'),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT') && /gs:\/\//.test(e.message),
    );
  });
});
