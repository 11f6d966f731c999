/**
 * The recipes of docs/scale-out.md run as printed: the Slurm array script, each task under the
 * variables Slurm sets for it (`--shard auto` reads them), and the Kubernetes Job's command line
 * under JOB_COMPLETION_INDEX; `neurotap` on PATH, the store's shared path moved into a temporary
 * directory. The tasks together leave a complete, verified store.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, cli, DIGITS_CNN, ROOT, type Run } from './helpers/dataset.js';

let tmp: string;

/** The fenced bash block of the doc that holds `marker`. */
function docBlock(marker: string): string {
  const doc = readFileSync(join(ROOT, 'docs', 'scale-out.md'), 'utf8');
  const block = [...doc.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes(marker));
  assert.ok(block, `no bash block with ${marker} in docs/scale-out.md`);
  return block;
}

function bash(script: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [script],
      { cwd: tmp, env: { ...process.env, ...env, PATH: `${join(tmp, 'bin')}:${process.env.PATH}` } },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-recipes-'));
  mkdirSync(join(tmp, 'bin'));
  writeFileSync(join(tmp, 'bin', 'neurotap'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(tmp, 'bin', 'neurotap'), 0o755);
  copyFileSync(DIGITS_CNN, join(tmp, 'model.onnx'));
  mkdirSync(join(tmp, 'data'));
  const digits = readdirSync(join(ROOT, 'fixtures', 'digits')).filter((f) => f.endsWith('.npy'));
  for (const f of digits) copyFileSync(join(ROOT, 'fixtures', 'digits', f), join(tmp, 'data', f));
  writeFileSync(join(tmp, 'data', 'images.txt'), `${digits.join('\n')}\n`);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The fenced yaml block of the doc that holds `marker`. */
function yamlBlock(marker: string): string {
  const doc = readFileSync(join(ROOT, 'docs', 'scale-out.md'), 'utf8');
  const block = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes(marker));
  assert.ok(block, `no yaml block with ${marker} in docs/scale-out.md`);
  return block;
}

describe('docs/scale-out.md recipes', () => {
  it('the Kubernetes indexed Job: the count is its completions, and its command runs as pods would', async () => {
    const manifest = yamlBlock('completionMode: Indexed');
    const completions = /^\s+completions: (\d+)/m.exec(manifest)?.[1];
    const count = /- name: NEUROTAP_SHARD_COUNT\n\s+value: "(\d+)"/.exec(manifest)?.[1];
    assert.ok(
      completions !== undefined && completions === count,
      `completions ${completions}, NEUROTAP_SHARD_COUNT ${count}`,
    );
    // The folded `args` scalar (`- >-`): its lines joined by spaces, as YAML folds them.
    const folded = /- >-\n((?:\s{14}.+\n)+)/.exec(manifest)?.[1];
    assert.ok(folded, 'no folded args in the manifest');
    const command = folded
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ')
      .replace('npx --yes neurotap@0.1.0', 'neurotap') // the shim on PATH: no network in the tests
      .replaceAll('/work/', `${tmp}/`);
    writeFileSync(join(tmp, 'pod.sh'), `${command}\n`);
    // Two pods of a Job with completions: 2 (the manifest's 8 would be 8 processes here).
    const pods = await Promise.all(
      [0, 1].map((i) => bash(join(tmp, 'pod.sh'), { JOB_COMPLETION_INDEX: String(i), NEUROTAP_SHARD_COUNT: '2' })),
    );
    pods.forEach((r, i) => assert.equal(r.code, 0, `pod ${i}: ${r.stdout}${r.stderr}`));
    assert.equal((await cli('verify', join(tmp, 'acts.zarr'))).code, 0);
  });

  it('the Slurm array script: two tasks of --array=0-1 write one complete store', async () => {
    const script = docBlock('#SBATCH --array=').replaceAll('/shared/', `${tmp}/shared/`);
    assert.match(script, /--shard auto --resume/);
    writeFileSync(join(tmp, 'extract.sbatch'), script);
    mkdirSync(join(tmp, 'shared'));
    // What Slurm sets in the tasks of sbatch --array=0-1 --cpus-per-task=1.
    const task = (id: number) => ({
      SLURM_ARRAY_TASK_ID: String(id),
      SLURM_ARRAY_TASK_COUNT: '2',
      SLURM_ARRAY_TASK_MIN: '0',
      SLURM_ARRAY_TASK_MAX: '1',
      SLURM_ARRAY_TASK_STEP: '1',
      SLURM_CPUS_PER_TASK: '1',
    });
    const runs = await Promise.all([0, 1].map((id) => bash(join(tmp, 'extract.sbatch'), task(id))));
    runs.forEach((r, i) => assert.equal(r.code, 0, `task ${i}: ${r.stdout}${r.stderr}`));
    const store = join(tmp, 'shared', 'acts.zarr');
    assert.equal((await cli('verify', store)).code, 0);
    const listing = JSON.parse((await cli('ls', store, '--shards', '2', '--json')).stdout);
    assert.equal(listing.items, 10);
    assert.deepEqual(listing.shards.done, [0, 1]);
    assert.equal(listing.chunks.complete, listing.chunks.count);
  });
});
