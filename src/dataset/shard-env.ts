/**
 * `--shard auto`: which shard this process is, read from the job runner's environment
 * (isomorphic: the caller passes the environment, e.g. `process.env`).
 *
 * ```ts
 * shardFromEnvironment({ JOB_COMPLETION_INDEX: '3', NEUROTAP_SHARD_COUNT: '8' });
 * // { index: 3, count: 8, runner: 'Kubernetes indexed Job', variables: ['JOB_COMPLETION_INDEX', 'NEUROTAP_SHARD_COUNT'] }
 * ```
 *
 * Kubernetes gives a pod its index but not the Job's `completions`, so the manifest passes the count
 * as NEUROTAP_SHARD_COUNT; NEUROTAP_SHARD_INDEX/NEUROTAP_SHARD_COUNT also serve any other runner
 * (a GitHub Actions matrix: `strategy.job-index` and `strategy.job-total`) and, set explicitly,
 * win over a runner's. Otherwise every runner whose index variable is set is read; two that
 * disagree are an error rather than a guess, because two processes taking the same shard would
 * leave another shard's chunks unwritten.
 */
import { NeurotapError } from '../errors.js';
import type { Shard } from './types.js';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface ShardFromEnvironment extends Shard {
  /** The runner the values came from, e.g. 'Slurm job array'. */
  readonly runner: string;
  /** The variables that were read. */
  readonly variables: readonly string[];
}

interface IndexCountRunner {
  readonly runner: string;
  readonly index: string;
  readonly count: string;
}

/** Runners that give a 0-based index and the number of tasks, in the order they are read. */
const INDEX_COUNT_RUNNERS: readonly IndexCountRunner[] = [
  { runner: 'neurotap', index: 'NEUROTAP_SHARD_INDEX', count: 'NEUROTAP_SHARD_COUNT' },
  { runner: 'Kubernetes indexed Job', index: 'JOB_COMPLETION_INDEX', count: 'NEUROTAP_SHARD_COUNT' },
  { runner: 'AWS Batch array job', index: 'AWS_BATCH_JOB_ARRAY_INDEX', count: 'AWS_BATCH_JOB_ARRAY_SIZE' },
  { runner: 'Cloud Run job', index: 'CLOUD_RUN_TASK_INDEX', count: 'CLOUD_RUN_TASK_COUNT' },
  { runner: 'Google Cloud Batch job', index: 'BATCH_TASK_INDEX', count: 'BATCH_TASK_COUNT' },
];

const SLURM = {
  id: 'SLURM_ARRAY_TASK_ID',
  count: 'SLURM_ARRAY_TASK_COUNT',
  min: 'SLURM_ARRAY_TASK_MIN',
  max: 'SLURM_ARRAY_TASK_MAX',
  step: 'SLURM_ARRAY_TASK_STEP',
} as const;

/** Every variable read, for messages and docs. */
export const SHARD_VARIABLES: readonly string[] = [
  ...new Set(INDEX_COUNT_RUNNERS.flatMap((r) => [r.index, r.count])),
  ...Object.values(SLURM),
];

function inconsistent(message: string, hint: string, variables: Record<string, string | undefined>): NeurotapError {
  return new NeurotapError('E_BAD_ARGUMENT', `Shard from the environment: ${message}.`, {
    hint,
    details: { reason: 'inconsistent-shard-environment', variables },
  });
}

/** A variable's value as a non-negative integer, undefined when unset. */
function integerOf(env: Environment, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return undefined;
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw inconsistent(
      `expected ${name} to be a whole number >= 0; it is '${text}'`,
      'Set it to the task index or count the runner gives, or give the shard explicitly.',
      { [name]: text },
    );
  return Number(text);
}

function checked(found: ShardFromEnvironment, env: Environment): ShardFromEnvironment {
  if (found.count >= 1 && found.index < found.count) return found;
  const values = Object.fromEntries(found.variables.map((v) => [v, env[v]]));
  throw inconsistent(
    `${found.runner} gives shard ${found.index} of ${found.count} (${describe(values)}); the index must be below the count`,
    "The count is the number of tasks of the job (e.g. the Job's completions); the index counts from 0.",
    values,
  );
}

const describe = (values: Record<string, string | undefined>) =>
  Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

function fromIndexCount(env: Environment, r: IndexCountRunner): ShardFromEnvironment | undefined {
  const index = integerOf(env, r.index);
  if (index === undefined) return undefined;
  const count = integerOf(env, r.count);
  if (count === undefined)
    throw inconsistent(
      `${r.index}=${env[r.index]} is set (${r.runner}) but ${r.count}, the number of shards, is not`,
      r.count === 'NEUROTAP_SHARD_COUNT'
        ? 'Set NEUROTAP_SHARD_COUNT to the number of shards (for a Kubernetes indexed Job: its completions), or give the shard explicitly.'
        : `Set ${r.count}, or give the shard explicitly.`,
      { [r.index]: env[r.index], [r.count]: undefined },
    );
  return checked({ index, count, runner: r.runner, variables: [r.index, r.count] }, env);
}

/**
 * A Slurm array `--array=MIN-MAX[:STEP]`: task ids need not start at 0 (`--array=1-8`), so the
 * shard index is the task's position in the array. A list (`--array=1,4,9`) has no position
 * derivable from the variables: its count disagrees with MIN/MAX/STEP and is refused.
 */
function fromSlurm(env: Environment): ShardFromEnvironment | undefined {
  const id = integerOf(env, SLURM.id);
  if (id === undefined) return undefined;
  const [count, min, max, step] = [SLURM.count, SLURM.min, SLURM.max, SLURM.step].map((v) => integerOf(env, v));
  const first = min ?? 0;
  const stride = step ?? 1;
  const values = Object.fromEntries(Object.values(SLURM).map((v) => [v, env[v]]));
  const span = max === undefined ? undefined : (max - first) / stride + 1;
  const position = (id - first) / stride;
  if (
    stride < 1 ||
    !Number.isInteger(position) ||
    position < 0 ||
    (span !== undefined && !Number.isInteger(span)) ||
    (span !== undefined && count !== undefined && span !== count)
  ) {
    throw inconsistent(
      `the Slurm array variables do not describe an evenly spaced array (${describe(values)})`,
      'Submit the Slurm array as a range (0-7, 1-8 or 0-14:2), or give the shard explicitly.',
      values,
    );
  }
  const total = count ?? span;
  if (total === undefined)
    throw inconsistent(
      `${SLURM.id}=${id} is set but neither ${SLURM.count} nor ${SLURM.max} is`,
      'Run it as a Slurm job array (a range such as 0-7), which sets both; or give the shard explicitly.',
      values,
    );
  const variables = Object.values(SLURM).filter((v) => env[v] !== undefined);
  return checked({ index: position, count: total, runner: 'Slurm job array', variables }, env);
}

/** The shard this process is, from the first runner variables found; a typed error when there are none or they disagree. */
export function shardFromEnvironment(env: Environment): ShardFromEnvironment {
  // Explicit values win: e.g. a Slurm task resubmitted alone (--array=3 is shard 0 of 1 to Slurm).
  const explicit = fromIndexCount(env, INDEX_COUNT_RUNNERS[0]);
  if (explicit) return explicit;
  const found = [...INDEX_COUNT_RUNNERS.slice(1).map((r) => fromIndexCount(env, r)), fromSlurm(env)].filter(
    (s): s is ShardFromEnvironment => s !== undefined,
  );
  if (found.length === 0) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Shard from the environment: found no shard index; looked for ${INDEX_COUNT_RUNNERS.map((r) => `${r.index} + ${r.count}`).join(', ')}, and ${SLURM.id} with ${SLURM.count} or ${SLURM.min}/${SLURM.max}.`,
      {
        hint: 'Run under a Kubernetes indexed Job (with NEUROTAP_SHARD_COUNT), a Slurm/AWS Batch/Cloud Run/Cloud Batch array, set NEUROTAP_SHARD_INDEX and NEUROTAP_SHARD_COUNT, or give the shard explicitly (see docs/scale-out.md).',
        details: { reason: 'no-shard-environment', variables: SHARD_VARIABLES },
      },
    );
  }
  const disagree = found.find((s) => s.index !== found[0].index || s.count !== found[0].count);
  if (disagree) {
    const values = Object.fromEntries([...found[0].variables, ...disagree.variables].map((v) => [v, env[v]]));
    throw inconsistent(
      `${found[0].runner} gives shard ${found[0].index}/${found[0].count} but ${disagree.runner} gives ${disagree.index}/${disagree.count} (${describe(values)})`,
      'Unset the variables of the runner that is not scheduling this job, or give the shard explicitly.',
      values,
    );
  }
  return found[0];
}
