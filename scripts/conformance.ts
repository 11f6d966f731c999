/**
 * `npm run conformance`: the ONNX backend test corpus (Debian's libonnx-testdata) through neurotap.
 * For every model that plain ONNX Runtime runs correctly, capturing every value (subgraph values
 * included) must leave the model's outputs equal to the expected ones, and every requested value
 * must come back or be reported (not called / not observable) with a reason.
 *
 * Usage: node --import tsx scripts/conformance.ts [--json] [--filter SUBSTRING] [--root DIR]
 */
import * as ort from 'onnxruntime-node';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unreturnableType } from '../src/graph/elem-type.js';
import { loadModel } from '../src/node/index.js';
import { decodeModel } from '../src/onnx/codec.js';
import { decodeTensorProto, tensorFromProto } from './onnx-tensor-data.js';
import type { HostTensor } from '../src/tensor.js';
import { closeEnough } from './conformance-compare.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const filter = args.includes('--filter') ? args[args.indexOf('--filter') + 1] : '';
const ROOT = args.includes('--root') ? args[args.indexOf('--root') + 1] : '/usr/share/libonnx-testdata/data';
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];

type Outcome = 'pass' | 'fail' | 'not-runnable-by-ort' | 'non-tensor-io';
interface CaseResult {
  suite: string;
  name: string;
  outcome: Outcome;
  reason?: string;
  values?: number;
}

function readTensors(dir: string, prefix: string): HostTensor[] {
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]));
  return files.map((f) => tensorFromProto(decodeTensorProto(new Uint8Array(readFileSync(join(dir, f))))));
}

async function runCase(suite: string, dir: string): Promise<CaseResult> {
  const name = dir.split('/').pop()!;
  const bytes = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
  const graph = decodeModel(bytes).graph!;
  const init = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((v) => !init.has(v.name));
  if ([...inputs, ...(graph.output ?? [])].some((v) => !v.type?.tensorType))
    return { suite, name, outcome: 'non-tensor-io' };
  const unreturnable = [...inputs, ...(graph.output ?? [])]
    .map((v) => unreturnableType(v.type?.tensorType?.elemType))
    .find(Boolean);
  // int4 outputs abort onnxruntime-node when fetched: such a model is never run.
  if (unreturnable)
    return {
      suite,
      name,
      outcome: 'not-runnable-by-ort',
      reason: `${unreturnable} tensors: the JS API cannot pass them`,
    };
  const dataDir = join(dir, 'test_data_set_0');
  if (!existsSync(dataDir)) return { suite, name, outcome: 'non-tensor-io', reason: 'no test data' };
  let given: HostTensor[];
  let expected: HostTensor[];
  let ortFeeds: Record<string, ort.Tensor>;
  // A newer corpus holds tensor types (bfloat16 feeds, float8, int4) that this reader or the JS API
  // cannot create: such a case is not runnable here, and must not stop the run.
  try {
    given = readTensors(dataDir, 'input_');
    expected = readTensors(dataDir, 'output_');
    ortFeeds = Object.fromEntries(
      inputs.map((v, i) => [v.name!, new ort.Tensor(given[i].type as never, given[i].data as never, given[i].dims)]),
    );
  } catch (err) {
    return { suite, name, outcome: 'not-runnable-by-ort', reason: `test data: ${firstLine(err)}` };
  }
  const feeds = Object.fromEntries(inputs.map((v, i) => [v.name!, given[i]]));
  const outNames = (graph.output ?? []).map((o) => o.name!);
  try {
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 4 });
    const plain = await session.run(ortFeeds);
    const bad = outNames.findIndex((o, i) => !closeEnough(plain[o], expected[i]));
    await session.release();
    if (bad >= 0)
      return {
        suite,
        name,
        outcome: 'not-runnable-by-ort',
        reason: `plain ORT output ${outNames[bad]} differs from the expected one`,
      };
  } catch (err) {
    return { suite, name, outcome: 'not-runnable-by-ort', reason: firstLine(err) };
  }
  try {
    const model = await loadModel(bytes);
    const plan = model.plan({ layers: 'values' });
    const acts = await model.capture(feeds, { layers: 'values' });
    const bad = outNames.findIndex((o, i) => !closeEnough(acts.outputs[o], expected[i]));
    if (bad >= 0) return { suite, name, outcome: 'fail', reason: `output ${outNames[bad]} changed by capturing` };
    const unreported = plan.targets.filter((t) => !acts.has(t.key) && !acts.whyNotObservable(t.key));
    if (unreported.length)
      return {
        suite,
        name,
        outcome: 'fail',
        reason: `values neither returned nor reported: ${unreported
          .slice(0, 3)
          .map((t) => t.key)
          .join(', ')}`,
      };
    await model.release();
    return { suite, name, outcome: 'pass', values: plan.targets.length };
  } catch (err) {
    return { suite, name, outcome: 'fail', reason: firstLine(err) };
  }
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0];
}

async function main(): Promise<void> {
  if (!existsSync(ROOT)) {
    console.error(`error: ${ROOT} not found. Install Debian's libonnx-testdata (apt-get install libonnx-testdata).`);
    process.exit(2);
  }
  const results: CaseResult[] = [];
  for (const suite of SUITES) {
    const base = join(ROOT, suite);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      if (filter && !name.includes(filter)) continue;
      results.push(await runCase(suite, join(base, name)));
      if (process.stderr.isTTY && !json) process.stderr.write(`\r${results.length} models…`);
    }
  }
  const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
  const runnable = count('pass') + count('fail');
  const summary = {
    total: results.length,
    nonTensorIo: count('non-tensor-io'),
    notRunnableByOrt: count('not-runnable-by-ort'),
    runnable,
    passing: count('pass'),
    failing: count('fail'),
  };
  if (json)
    console.log(JSON.stringify({ summary, failures: results.filter((r) => r.outcome === 'fail'), results }, null, 1));
  else {
    if (process.stderr.isTTY) process.stderr.write('\r');
    for (const r of results.filter((x) => x.outcome === 'fail')) console.log(`FAIL ${r.suite}/${r.name}: ${r.reason}`);
    console.log(
      `total ${summary.total}, non-tensor inputs/outputs ${summary.nonTensorIo}, not runnable by plain ORT ${summary.notRunnableByOrt}, runnable ${runnable}: ${summary.passing} pass with capture-all, ${summary.failing} fail`,
    );
  }
  process.exitCode = summary.failing > 0 ? 1 : 0;
}

await main();
