/**
 * Forward hooks under hostile use: hooks registering or removing hooks while a run fires them,
 * async hooks (awaited, their rejections reject `run`), and names a hook cannot attach to.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNeurotapError, loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

const mlp = fixture('seed-mlp');
const feeds = () => Object.fromEntries(mlp.inputs);
const code = (c: string, message?: RegExp) => (err: unknown) =>
  isNeurotapError(err, c as never) && !!err.hint && (!message || message.test(err.message));

describe('hooks registered or removed by hooks', () => {
  it('a hook registered inside a hook first fires in the next run, so hooks that keep registering stay bounded', async () => {
    const model = await loadModel(mlp.path);
    const fired: string[] = [];
    let registered = 0;
    const spawner = () => {
      fired.push('spawner');
      registered++;
      model.registerForwardHook('2', () => void fired.push('child'));
      model.registerForwardHook('0', spawner); // registers itself again: PyTorch would not loop either
    };
    model.registerForwardHook('0', spawner);
    await model.run(feeds());
    assert.deepEqual(fired, ['spawner'], 'hooks added during the run did not fire in it');
    fired.length = 0;
    await model.run(feeds());
    // The original spawner and its copy fire on '0', the one child registered in run 1 on '2'.
    assert.deepEqual(fired, ['spawner', 'spawner', 'child']);
    assert.equal(registered, 3);
  });

  it('a hook removed by an earlier hook of the same run does not fire', async () => {
    const model = await loadModel(mlp.path);
    const fired: string[] = [];
    const late = model.registerForwardHook('2', () => void fired.push('late'));
    model.registerForwardHook('0', () => {
      fired.push('first');
      late.remove();
    });
    await model.run(feeds());
    assert.deepEqual(fired, ['first']);
  });
});

describe('async hooks', () => {
  it('are awaited in order before run resolves, with the tensors of their call', async () => {
    const model = await loadModel(mlp.path);
    const fired: string[] = [];
    model.registerForwardHook('0', async (m, _inputs, output) => {
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(mismatch(output as never, mlp.golden.get('0')!), undefined);
      fired.push(`async ${m.name}`);
    });
    model.registerForwardHook('2', (m) => void fired.push(`sync ${m.name}`));
    const out = await model.run(feeds());
    assert.deepEqual(fired, ['async 0', 'sync 2']);
    assert.ok(Object.keys(out).length > 0);
  });

  it("reject run with the hook's own error instead of an unhandled rejection, and later hooks do not fire", async () => {
    const model = await loadModel(mlp.path);
    const boom = new Error('hook failed');
    let later = 0;
    model.registerForwardPreHook('1', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      throw boom;
    });
    model.registerForwardHook('2', () => void later++);
    await assert.rejects(model.run(feeds()), (err) => err === boom);
    assert.equal(later, 0);
  });
});

describe('what a hook attaches to', () => {
  it('refuses globs, presets, lists and RegExps with E_BAD_ARGUMENT', async () => {
    const model = await loadModel(fixture('resnet18-preserve').path);
    const hook = () => undefined;
    assert.throws(
      () => model.registerForwardHook('layer1.*', hook),
      code('E_BAD_ARGUMENT', /the pattern 'layer1\.\*'/),
    );
    assert.throws(() => model.registerForwardPreHook('leaves', hook), code('E_BAD_ARGUMENT', /the preset 'leaves'/));
    assert.throws(() => model.registerForwardHook('fc,layer1', hook), code('E_BAD_ARGUMENT', /the list/));
    assert.throws(() => model.registerForwardHook(/fc/ as never, hook), code('E_BAD_ARGUMENT', /a RegExp/));
    assert.throws(() => model.registerForwardHook('layer9', hook), code('E_UNKNOWN_LAYER'));
  });

  it('refuses a module whose output (or, for a pre-hook, input) the export did not keep, with E_NOT_OBSERVABLE', async () => {
    const fused = await loadModel(fixture('fused-bn').path);
    const hook = () => undefined;
    // 'stem' ends in a Conv that absorbed the next BatchNorm: its output is in no graph value.
    assert.throws(() => fused.registerForwardHook('stem', hook), code('E_NOT_OBSERVABLE', /'stem'.*BatchNorm/));
    assert.throws(() => fused.registerForwardPreHook('stem', hook), code('E_NOT_OBSERVABLE'));
    // resnet18's top relu receives the folded Conv's output: a pre-hook cannot see it, a forward hook can.
    const resnet = await loadModel(fixture('resnet18').path);
    assert.throws(() => resnet.registerForwardPreHook('relu', hook), code('E_NOT_OBSERVABLE', /'in:relu#0'/));
    const handle = resnet.registerForwardHook('relu', hook);
    handle.remove();
  });
});
