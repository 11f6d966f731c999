/**
 * `neurotap ls STORE [--shards N] [--json]`: the keys of a data-set store (array, shape, dtype),
 * and how complete it is: chunk objects present per key, chunks with a completion record, and
 * with --shards which shards of the run are done. Lists and reads the manifest only (no chunk
 * is read: `neurotap verify` checks the bytes).
 */
import type { ArgsDef } from 'citty';
import type { StoreListing } from '../../node/dataset/list-store.js';
import { flagCommand, isSet, lastValue, parseInteger } from '../argv.js';
import { formatColumns, formatShape, stylesFor } from '../format.js';
import { S3_ARGS, s3OptionsOf } from '../s3-flags.js';
import { ranges } from './verify.js';

const args = {
  store: {
    type: 'positional',
    required: true,
    description: 'A Zarr store written by neurotap extract --inputs ... --out STORE (a path or s3:// URL)',
  },
  shards: {
    type: 'string',
    valueHint: 'N',
    description: 'The shard count of the run (--shard I/N): also say which shards are done',
  },
  json: { type: 'boolean', description: 'Print the listing as one JSON object' },
  ...S3_ARGS,
} satisfies ArgsDef;

export default flagCommand(
  { name: 'ls', description: 'List the keys, shapes and dtypes of a data-set store, and how complete it is' },
  args,
  'Give one store: neurotap ls store.zarr.',
  async (store, flags) => {
    const shardsText = lastValue(flags, 'shards');
    const shards = shardsText === undefined ? undefined : parseInteger(shardsText, 'shards', 1, 1 << 20);
    const { listStore } = await import('../../node/dataset/list-store.js');
    const s3 = s3OptionsOf(flags, store!);
    const listing = await listStore(store!, { ...(shards === undefined ? {} : { shards }), ...(s3 ? { s3 } : {}) });
    const text = isSet(flags, 'json') ? JSON.stringify(listing, null, 1) : listText(listing).join('\n');
    process.stdout.write(`${text}\n`);
  },
);

function shardLine(shards: NonNullable<StoreListing['shards']>): string {
  const open = shards.progress.filter((p) => p.complete < p.chunks);
  const done = shards.done.length ? `${ranges(shards.done)} done` : 'none done';
  const rest = open.map((p) => `${p.index} at ${p.complete}/${p.chunks} chunks`).join(', ');
  return `${shards.done.length} of ${shards.count} shards complete: ${done}${rest ? `; ${rest}` : ''}`;
}

function listText(l: StoreListing): string[] {
  const s = stylesFor(process.stdout);
  const c = l.chunks;
  const rows = l.keys.map((k) => [
    k.key,
    k.array,
    formatShape(k.shape),
    k.dtype,
    `${k.chunks.present}/${k.chunks.expected}`,
  ]);
  const state = c.complete === c.count ? `all ${c.count} complete` : s.yellow(`${c.complete} of ${c.count} complete`);
  const lines = [
    `${s.dim('store ')}  ${l.path}`,
    `${s.dim('model ')}  ${l.model.file} (sha256 ${l.model.sha256.slice(0, 12)}), ${l.format}, neurotap ${l.neurotap}`,
    `${s.dim('items ')}  ${l.items} in ${c.count} chunk${c.count === 1 ? '' : 's'} of ${c.size}: ${state}`,
    '',
    ...formatColumns([['key', 'array', 'shape', 'dtype', 'chunks'].map(s.bold), ...rows], [4]),
  ];
  if (l.missingChunks.length) lines.push('', `chunks without a completion record: ${ranges(l.missingChunks)}`);
  if (l.shards) lines.push(shardLine(l.shards));
  for (const k of l.skippedKeys) lines.push(s.dim(`${k.key}: not stored, ${k.reason}`));
  const recomputed = l.keys.filter((k) => k.recomputed);
  if (recomputed.length)
    lines.push(
      `recomputed (not read from the graph): ${recomputed.map((k) => k.key).join(', ')}: ${recomputed[0].recomputed}`,
    );
  if (l.leftovers)
    lines.push(s.dim(`${l.leftovers} temporary objects of interrupted writes (not data; --resume removes them)`));
  return lines;
}
