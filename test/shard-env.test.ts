/**
 * `--shard auto`: the shard index and count from each job runner's environment, and the typed
 * errors when none is set, a count is missing, or the values contradict each other.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanFlags } from '../src/cli/argv.js';
import { FLAGS, shardOf } from '../src/cli/flags.js';
import { shardFromEnvironment, SHARD_VARIABLES } from '../src/dataset/shard-env.js';
import { isNeurotapError } from '../src/errors.js';

function rejects(env: Record<string, string>, reason: string, mentions: RegExp): void {
  assert.throws(
    () => shardFromEnvironment(env),
    (err) =>
      isNeurotapError(err, 'E_BAD_ARGUMENT') &&
      (err.details as { reason: string }).reason === reason &&
      mentions.test(err.message) &&
      typeof err.hint === 'string',
  );
}

describe('shardFromEnvironment', () => {
  it('reads a Kubernetes indexed Job (JOB_COMPLETION_INDEX + NEUROTAP_SHARD_COUNT)', () => {
    const s = shardFromEnvironment({ JOB_COMPLETION_INDEX: '3', NEUROTAP_SHARD_COUNT: '8', HOME: '/root' });
    assert.deepEqual(s, {
      index: 3,
      count: 8,
      runner: 'Kubernetes indexed Job',
      variables: ['JOB_COMPLETION_INDEX', 'NEUROTAP_SHARD_COUNT'],
    });
  });

  it('reads explicit NEUROTAP_SHARD_INDEX/COUNT (a GitHub Actions matrix)', () => {
    const s = shardFromEnvironment({ NEUROTAP_SHARD_INDEX: '0', NEUROTAP_SHARD_COUNT: '4' });
    assert.deepEqual([s.index, s.count, s.runner], [0, 4, 'neurotap']);
  });

  it('reads AWS Batch, Cloud Run and Google Cloud Batch arrays', () => {
    const aws = shardFromEnvironment({ AWS_BATCH_JOB_ARRAY_INDEX: '9', AWS_BATCH_JOB_ARRAY_SIZE: '10' });
    assert.deepEqual([aws.index, aws.count, aws.runner], [9, 10, 'AWS Batch array job']);
    const run = shardFromEnvironment({ CLOUD_RUN_TASK_INDEX: '2', CLOUD_RUN_TASK_COUNT: '5' });
    assert.deepEqual([run.index, run.count, run.runner], [2, 5, 'Cloud Run job']);
    const batch = shardFromEnvironment({ BATCH_TASK_INDEX: '0', BATCH_TASK_COUNT: '1' });
    assert.deepEqual([batch.index, batch.count, batch.runner], [0, 1, 'Google Cloud Batch job']);
  });

  it('reads a Slurm array from 0, from 1, with a step, and from COUNT alone', () => {
    const slurm = (vars: Record<string, string>) => {
      const s = shardFromEnvironment(vars);
      return [s.index, s.count];
    };
    // sbatch --array=0-7 sets all five
    const zero = {
      SLURM_ARRAY_TASK_ID: '5',
      SLURM_ARRAY_TASK_COUNT: '8',
      SLURM_ARRAY_TASK_MIN: '0',
      SLURM_ARRAY_TASK_MAX: '7',
      SLURM_ARRAY_TASK_STEP: '1',
    };
    assert.deepEqual(slurm(zero), [5, 8]);
    // --array=1-8: task 1 is shard 0, task 8 shard 7
    assert.deepEqual(slurm({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '8' }), [0, 8]);
    assert.deepEqual(slurm({ SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '8' }), [7, 8]);
    // --array=0-14:2 is 8 tasks: 0, 2, ..., 14
    const stepped = { SLURM_ARRAY_TASK_ID: '6', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '14' };
    assert.deepEqual(slurm({ ...stepped, SLURM_ARRAY_TASK_STEP: '2', SLURM_ARRAY_TASK_COUNT: '8' }), [3, 8]);
    assert.deepEqual(slurm({ SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '3' }), [2, 3]);
  });

  it('takes explicit NEUROTAP_SHARD_INDEX/COUNT over a runner: a Slurm task resubmitted alone', () => {
    const alone = {
      SLURM_ARRAY_TASK_ID: '3',
      SLURM_ARRAY_TASK_COUNT: '1',
      SLURM_ARRAY_TASK_MIN: '3',
      SLURM_ARRAY_TASK_MAX: '3',
    };
    assert.deepEqual([shardFromEnvironment(alone).index, shardFromEnvironment(alone).count], [0, 1]);
    const s = shardFromEnvironment({ ...alone, NEUROTAP_SHARD_INDEX: '3', NEUROTAP_SHARD_COUNT: '8' });
    assert.deepEqual([s.index, s.count, s.runner], [3, 8, 'neurotap']);
  });

  it('accepts two runners that agree', () => {
    const s = shardFromEnvironment({ JOB_COMPLETION_INDEX: '1', NEUROTAP_SHARD_INDEX: '1', NEUROTAP_SHARD_COUNT: '2' });
    assert.deepEqual([s.index, s.count, s.runner], [1, 2, 'neurotap']);
  });

  it('names every variable it looked for when none is set', () => {
    rejects({ HOME: '/root', NEUROTAP_SHARD_COUNT: '4' }, 'no-shard-environment', /JOB_COMPLETION_INDEX/);
    assert.throws(
      () => shardFromEnvironment({}),
      (err: { message: string; details: { variables: string[] } }) => {
        // STEP only refines MIN/MAX, so the message leaves it out; details list it.
        for (const v of SHARD_VARIABLES.filter((v) => v !== 'SLURM_ARRAY_TASK_STEP'))
          assert.match(err.message, new RegExp(v));
        assert.deepEqual(err.details.variables, SHARD_VARIABLES);
        return true;
      },
    );
  });

  it('refuses an index without its count, naming the count variable', () => {
    rejects({ JOB_COMPLETION_INDEX: '2' }, 'inconsistent-shard-environment', /NEUROTAP_SHARD_COUNT.*is not/);
    rejects({ AWS_BATCH_JOB_ARRAY_INDEX: '2' }, 'inconsistent-shard-environment', /AWS_BATCH_JOB_ARRAY_SIZE/);
    rejects({ SLURM_ARRAY_TASK_ID: '2' }, 'inconsistent-shard-environment', /SLURM_ARRAY_TASK_COUNT nor/);
  });

  it('refuses inconsistent values', () => {
    const bad = 'inconsistent-shard-environment';
    rejects({ CLOUD_RUN_TASK_INDEX: '5', CLOUD_RUN_TASK_COUNT: '5' }, bad, /shard 5 of 5/);
    rejects({ BATCH_TASK_INDEX: '0', BATCH_TASK_COUNT: '0' }, bad, /shard 0 of 0/);
    rejects({ NEUROTAP_SHARD_INDEX: '-1', NEUROTAP_SHARD_COUNT: '4' }, bad, /NEUROTAP_SHARD_INDEX.*'-1'/);
    rejects({ NEUROTAP_SHARD_INDEX: '1', NEUROTAP_SHARD_COUNT: 'four' }, bad, /'four'/);
    // Two runners that disagree: neither is trusted.
    rejects(
      { JOB_COMPLETION_INDEX: '1', NEUROTAP_SHARD_COUNT: '4', SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4' },
      bad,
      /Kubernetes indexed Job gives shard 1\/4 but Slurm job array gives 2\/4/,
    );
    // --array=1,4,9: three tasks that MIN/MAX cannot place.
    const list = { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '3' };
    rejects({ ...list, SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '9' }, bad, /evenly spaced/);
    rejects({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_STEP: '2' }, bad, /evenly spaced/);
  });
});

describe('--shard auto', () => {
  const flags = (value: string) =>
    scanFlags(['m.onnx', '--shard', value], { model: FLAGS.model, shard: FLAGS.shard }, 'x');

  it('takes the shard from the environment, and INDEX/COUNT as before', () => {
    assert.deepEqual(shardOf(flags('auto'), { JOB_COMPLETION_INDEX: '2', NEUROTAP_SHARD_COUNT: '3' }), {
      index: 2,
      count: 3,
    });
    assert.deepEqual(shardOf(flags('1/4'), {}), { index: 1, count: 4 });
  });

  it('fails with the variables it looked for outside a runner', () => {
    assert.throws(
      () => shardOf(flags('auto'), {}),
      (err) => isNeurotapError(err, 'E_BAD_ARGUMENT') && /SLURM_ARRAY_TASK_ID/.test(err.message),
    );
    assert.throws(() => shardOf(flags('every'), {}), /--shard INDEX\/COUNT \(e\.g\. 0\/4\) or --shard auto/);
  });
});
