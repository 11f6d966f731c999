/** The intervention fixtures (scripts/fixtures_edits.py): cases, their tensors and PyTorch's edited goldens. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { add, clamp, patchFrom, replace, scale, zero, type EditOp } from '../../src/capture/edit-ops.js';
import { parseNpz } from '../../src/formats/npz.js';
import type { NeurotapModel } from '../../src/model.js';
import type { HostTensor } from '../../src/tensor.js';
import { FIXTURES } from './fixtures.js';

export interface EditSpec {
  key: string;
  op: 'zero' | 'scale' | 'add' | 'clamp' | 'replace' | 'patch';
  factor?: number;
  scale?: number;
  min?: number;
  max?: number;
}
export interface EditCase {
  name: string;
  edits: EditSpec[];
  clean?: string;
}

export function editFixture(name: string) {
  const dir = join(FIXTURES, name);
  const npz = (file: string) => parseNpz(new Uint8Array(readFileSync(join(dir, file))));
  const tensors = npz('edit_tensors.npz');
  return {
    dir,
    path: join(dir, 'model.onnx'),
    inputs: Object.fromEntries(npz('input.npz')),
    clean: () => Object.fromEntries(npz('clean.npz')),
    cases: JSON.parse(readFileSync(join(dir, 'edits.json'), 'utf8')).cases as EditCase[],
    golden: npz('edited_golden.npz'),
    tensor: (c: EditCase, key: string) => tensors.get(`${c.name}/${key}`) as HostTensor,
  };
}

/** The case's edits as neurotap operations; `patch` reads a clean capture of the patched keys. */
export async function editsOf(
  model: NeurotapModel,
  fx: ReturnType<typeof editFixture>,
  c: EditCase,
): Promise<Record<string, EditOp>> {
  const patched = c.edits.filter((e) => e.op === 'patch').map((e) => e.key);
  const clean = patched.length ? await model.capture(fx.clean(), { layers: patched }) : undefined;
  const opOf = (e: EditSpec): EditOp => {
    switch (e.op) {
      case 'zero':
        return zero();
      case 'scale':
        return scale(e.factor!);
      case 'add':
        return add(fx.tensor(c, e.key), { scale: e.scale });
      case 'clamp':
        return clamp({ min: e.min ?? undefined, max: e.max ?? undefined });
      case 'replace':
        return replace(fx.tensor(c, e.key));
      case 'patch':
        return patchFrom(clean!);
    }
  };
  return Object.fromEntries(c.edits.map((e) => [e.key, opOf(e)]));
}

/** The keys PyTorch recorded for a case (model outputs as `__output__#i`). */
export function goldenKeys(fx: ReturnType<typeof editFixture>, c: EditCase): string[] {
  return [...fx.golden.keys()].filter((k) => k.startsWith(`${c.name}/`)).map((k) => k.slice(c.name.length + 1));
}
