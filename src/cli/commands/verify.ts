/**
 * `neurotap verify store.zarr`: checks that every chunk of a data-set store was written and
 * still has the checksum recorded when it was; exits with E_BAD_FILE (2) when anything is
 * missing or corrupt, naming the chunks to re-extract (`--resume` redoes exactly those).
 */
import type { ArgsDef } from 'citty';
import { NeurotapError } from '../../errors.js';
import type { VerifyReport } from '../../node/dataset/verify-store.js';
import { flagCommand, isSet } from '../argv.js';
import { stylesFor } from '../format.js';
import { S3_ARGS, s3OptionsOf } from '../s3-flags.js';

const args = {
  store: {
    type: 'positional',
    required: true,
    description: 'A Zarr store written by neurotap extract --inputs ... --out store.zarr (a path or s3:// URL)',
  },
  json: { type: 'boolean', description: 'Print the report as one JSON object' },
  ...S3_ARGS,
} satisfies ArgsDef;

export default flagCommand(
  { name: 'verify', description: 'Check that every chunk of a data-set store exists and matches its recorded SHA-256' },
  args,
  'Give one store: neurotap verify store.zarr.',
  async (store, flags) => {
    const { verifyStore } = await import('../../node/dataset/verify-store.js');
    const s3 = s3OptionsOf(flags, store!);
    const report = await verifyStore(store!, s3 ? { s3 } : {});
    const json = isSet(flags, 'json');
    if (report.ok) {
      process.stdout.write(`${json ? JSON.stringify(report, null, 1) : verifyText(report).join('\n')}\n`);
      return;
    }
    if (!json) process.stdout.write(`${verifyText(report).join('\n')}\n`);
    throw failure(report);
  },
);

/** Chunk numbers as ranges: 0-3, 7, 9-10. */
export function ranges(chunks: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < chunks.length; i++) {
    let j = i;
    while (j + 1 < chunks.length && chunks[j + 1] === chunks[j] + 1) j++;
    parts.push(i === j ? String(chunks[i]) : `${chunks[i]}-${chunks[j]}`);
    i = j;
  }
  return parts.join(', ');
}

function verifyText(r: VerifyReport): string[] {
  const s = stylesFor(process.stdout);
  const lines = [
    `${s.dim('store')}  ${r.path}`,
    `${s.dim('items')}  ${r.items} in ${r.chunks.total} chunks, ${r.arrays} arrays`,
  ];
  lines.push(
    r.ok
      ? `ok: all ${r.chunks.total} chunks complete and matching their checksums`
      : s.red(`${r.chunks.complete} of ${r.chunks.total} chunks complete`),
  );
  if (r.missingChunks.length) lines.push(`missing chunks: ${ranges(r.missingChunks)}`);
  for (const f of r.badFiles.slice(0, 20)) lines.push(`chunk ${f.chunk}: ${f.file} ${f.problem}`);
  if (r.badFiles.length > 20) lines.push(`... and ${r.badFiles.length - 20} more files`);
  for (const a of r.badArrays) lines.push(`array ${a.array}: ${a.problem}`);
  if (r.tempFiles.length)
    lines.push(
      `${r.tempFiles.length} temporary files of an interrupted write remain (not data; --resume removes them), e.g. ${r.tempFiles[0]}`,
    );
  return lines;
}

function failure(r: VerifyReport): NeurotapError {
  const problems = [
    r.missingChunks.length ? `${r.missingChunks.length} chunks missing` : '',
    r.badFiles.length ? `${r.badFiles.length} files missing or corrupt` : '',
    r.badArrays.length ? `${r.badArrays.length} arrays inconsistent` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return new NeurotapError('E_BAD_FILE', `Store ${r.path} failed verification: ${problems}.`, {
    hint: 'Rerun the same extraction with --resume: it rewrites the chunks without a valid record and removes stale temporary files. Delete the records of corrupt chunks (.neurotap/chunks/K.json) first.',
    details: { report: r },
  });
}
