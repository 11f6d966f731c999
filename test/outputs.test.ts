/**
 * What a module returns, and its keys (scripts/fixtures_outputs.py): containers keyed by position
 * (`#i`: a tuple's index, a dict's insertion order, a dataclass's field order), tuple-returning
 * torch.nn classes known from evidence (nn.MultiheadAttention, MaxPool with return_indices), and the
 * containers only a marked export (`neurotap_torch.export`) shows.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareCaches, explainFromModel, inExecutionOrder } from '../src/compare/compare.js';
import { parseNpz } from '../src/formats/npz.js';
import { loadModel } from '../src/node/index.js';
import { hasTorch } from './helpers/python.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

const MARKED = join(FIXTURES, 'outputs-marked');
const npz = (file: string) => parseNpz(new Uint8Array(readFileSync(join(MARKED, file))));

function dump() {
  const tensors = npz('dump.npz');
  const raw = tensors.get('__metadata__')!.data as Uint8Array;
  tensors.delete('__metadata__');
  const meta = JSON.parse(new TextDecoder().decode(raw));
  return { tensors, modules: JSON.parse(meta['neurotap.modules']) as { name: string; fields?: string[] }[] };
}

describe('tuple-returning torch.nn classes in a default export', () => {
  it('keys nn.MultiheadAttention #0 and #1 and MaxPool indices #1, never the bare name', async () => {
    const fx = fixture('outputs-tuples');
    const model = await loadModel(fx.path);
    assert.equal(model.module('attn')?.type, 'MultiheadAttention');
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    // `y, _ = attn(x, x, x, need_weights=False)`: PyTorch's hook output is (y, None).
    assert.equal(acts.get('attn'), undefined);
    assert.equal(mismatch(acts.get('attn#0')!, fx.golden.get('attn#0')!), undefined);
    assert.match(acts.whyNotObservable('attn#1')?.reason ?? '', /need_weights=False/);
    // A deep copy: the exporter deduplicated its weights into Identity nodes that keep its names.
    assert.equal(model.module('attn_clone')?.type, 'MultiheadAttention');
    assert.match(acts.whyNotObservable('attn_clone#1')?.reason ?? '', /need_weights=False/);
    for (const key of [
      'attn_clone#0',
      'attn_w#0',
      'attn_w#1',
      'pool#0',
      'pool#1',
      'as_dict#0',
      'as_dict#1',
      'as_output#1',
    ])
      assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
    assert.equal(acts.get('pool#1')?.type, 'int64');
    // `attn(x, x, x)` through the packed in-projection: the pre-hook's three inputs are one value.
    for (const i of [0, 1, 2])
      assert.equal(mismatch(acts.get(`in:attn#${i}`)!, fx.goldenInputs.get(`attn#${i}`)!), undefined);
    // A reason given for one element explains that element only, not the module's inputs.
    const explain = explainFromModel(model, acts, 'A');
    assert.match(explain('attn#1') ?? '', /need_weights=False/);
    assert.doesNotMatch(explain('in:attn#1') ?? '', /need_weights/);
  });
});

describe('containers only a marked export shows', () => {
  it('gives every key of the dump, equal to it, containers of one element included', async () => {
    const model = await loadModel(join(MARKED, 'model.onnx'));
    assert.equal(model.moduleNameSource, 'neurotap-export');
    const acts = await model.capture(Object.fromEntries(npz('input.npz')), { layers: 'modules', inputs: true });
    const { tensors } = dump();
    const c = compareCaches(inExecutionOrder(model, acts), tensors, { atol: 1e-5, rtol: 1e-4 });
    assert.deepEqual(c.unmatched, { a: [], b: [] });
    assert.equal(c.firstDivergence, null, JSON.stringify(c.keys.find((k) => !k.ok)));
    for (const key of [
      'blocks.one_dict#0',
      'blocks.one_tuple#0',
      'blocks.none#2',
      'blocks.nested#0#1',
      'pool#1',
      'pass_others#0',
      'pass_sum#0',
      'pass_op#0',
    ])
      assert.ok(acts.get(key), key);
    assert.equal(acts.get('blocks.one_dict'), undefined);
  });

  it('the default export of the same model: the documented limits', async () => {
    const model = await loadModel(join(MARKED, 'default.onnx'));
    const acts = await model.capture(Object.fromEntries(npz('input.npz')), { layers: 'modules' });
    const { tensors } = dump();
    // A 1-entry dict or 1-tuple is one value: the bare key holds its element.
    assert.equal(mismatch(acts.get('blocks.one_dict')!, tensors.get('blocks.one_dict#0')!), undefined);
    // A None element leaves no trace: the element at position 2 is handed out as #1.
    assert.equal(mismatch(acts.get('blocks.none#1')!, tensors.get('blocks.none#2')!), undefined);
    // Unused indices are dropped by the exporter: a plain pool.
    assert.equal(mismatch(acts.get('pool')!, tensors.get('pool#0')!), undefined);
    // `return x, f(x)` read by other nodes, by a sum, from a single-op leaf: not detected.
    for (const m of ['pass_others', 'pass_sum', 'pass_op'])
      assert.equal(mismatch(acts.get(m)!, tensors.get(`${m}#1`)!), undefined, m);
  });

  it("names the dump's dict keys and fields in the module table", () => {
    const fields = Object.fromEntries(
      dump()
        .modules.filter((m) => m.fields)
        .map((m) => [m.name, m.fields]),
    );
    assert.deepEqual(fields, { 'blocks.nested': ['pair', 'sum'], 'blocks.one_dict': ['out'] });
  });
});

describe('neurotap_torch containers live', { skip: hasTorch() ? false : 'no /usr/bin/python3 with torch' }, () => {
  it('keys namedtuple, frozen dataclass and ModelOutput-like elements alike in dump and export markers', async () => {
    const script = `
import io, json, sys, tempfile, os, dataclasses, collections, torch, torch.nn as nn
sys.path.insert(0, ${JSON.stringify(join(import.meta.dirname, '..', 'python'))})
import neurotap_torch
Pair = collections.namedtuple("Pair", ["low", "high"])
@dataclasses.dataclass(frozen=True)
class Frozen:
    a: torch.Tensor
    skipped: object
    b: torch.Tensor
class Out(collections.OrderedDict):
    pass
class M(nn.Module):
    def __init__(s, kind):
        super().__init__(); s.lin = nn.Linear(4, 4); s.kind = kind
    def forward(s, x):
        y = s.lin(x)
        if s.kind == "pair": return Pair(y, y * 2)
        if s.kind == "frozen": return Frozen(y, None, y + 1)
        return Out(first=y, second=(y - 1, None, y * 3))
class Root(nn.Module):
    def __init__(s):
        super().__init__(); s.p = M("pair"); s.f = M("frozen"); s.o = M("out")
    def forward(s, x):
        p, f, o = s.p(x), s.f(x), s.o(x)
        return p.low + p.high + f.a + f.b + o["first"] + o["second"][0] + o["second"][2]
torch.manual_seed(0)
m, x = Root().eval(), torch.randn(2, 4)
d = tempfile.mkdtemp()
dumped = neurotap_torch.dump(m, (x,), os.path.join(d, "dump.npz"))
meta = neurotap_torch.export(m, (x,), os.path.join(d, "m.onnx"))
print(json.dumps({"dump": sorted(dumped), "marks": sorted({k["key"] for k in meta["marks"]} - {"p.lin", "f.lin", "o.lin"} - {k["key"] for k in meta["marks"] if k["key"].startswith("in:")})}))
`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile('/usr/bin/python3', ['-c', script], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const { dump: keys, marks } = JSON.parse(out.trim().split('\n').at(-1)!);
    const expected = ['f#0', 'f#2', 'o#0', 'o#1#0', 'o#1#2', 'p#0', 'p#1'];
    assert.deepEqual(keys, [...expected, 'f.lin', 'o.lin', 'p.lin'].sort());
    assert.deepEqual(marks, expected);
  });
});
