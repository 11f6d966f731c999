/**
 * Bench case for s3:// stores: the objects of a real data-set store (5,000 digits through the demo
 * CNN, all 10 keys, default chunks) put into the local S3 server of the tests (s3rver, its own
 * process, on loopback) with 8 uploads in flight, against the same objects put into a local
 * directory store 8 at a time, in interleaved rounds; plus the whole extraction into each. Rows
 * have the shape of bench/run.ts results; `node --import tsx bench/s3.ts` prints these rows alone.
 * s3rver spends more CPU per request than our client (it hashes each object and writes three
 * files for it) and shares the machine's cores with the writer, so the ratio is a lower bound.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arraySource, writeDataset } from '../src/node/dataset/index.js';
import type { DatasetStore } from '../src/node/dataset/dataset-store.js';
import { FileDatasetStore } from '../src/node/dataset/file-store.js';
import { S3DatasetStore } from '../src/node/dataset/s3-store.js';
import { Slots } from '../src/node/dataset/slots.js';
import { loadModel, type NeurotapModel } from '../src/node/index.js';
import { BUCKET, startS3 } from '../test/helpers/s3.js';
import { digitsLike } from '../test/helpers/dataset.js';
import { type CaseResult, stats } from './cases.js';

const ITEMS = 5000;
const BATCH = 64;
const IN_FLIGHT = 8;
const ROUNDS = Number(process.env.BENCH_S3_ROUNDS ?? 3);

async function time(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

/** CPU time (ms) a process has used so far, from /proc (Linux; 100 ticks a second); 0 where unreadable. */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Puts every object, at most IN_FLIGHT at once, then syncs. */
async function putAll(store: DatasetStore, objects: Map<string, Uint8Array>): Promise<void> {
  const slots = new Slots(IN_FLIGHT);
  await Promise.all([...objects].map(([key, bytes]) => slots.run(() => store.put(key, bytes))));
  await store.sync();
}

async function extract(model: NeurotapModel, data: Float32Array, out: string, endpoint?: string): Promise<void> {
  const source = arraySource({ image: { type: 'float32', dims: [ITEMS, 1, 8, 8], data } });
  await writeDataset(model, source, out, { batchSize: BATCH, ...(endpoint ? { s3: { endpoint } } : {}) });
}

export async function s3Cases(root: string, threads: number): Promise<CaseResult[]> {
  const model = await loadModel(join(root, 'fixtures', 'digits-cnn.onnx'), { threads });
  const data = digitsLike(ITEMS, 12345);
  const dir = mkdtempSync(join(tmpdir(), 'neurotap-bench-s3-'));
  const s3 = await startS3();
  const samples: Record<string, number[]> = { disk: [], s3: [], extractDisk: [], extractS3: [] };
  const cpu = { client: 0, server: 0, disk: 0 }; // over the upload rounds: where the time goes
  let bytes = 0;
  let count = 0;
  try {
    await extract(model, data, join(dir, 'source.zarr'));
    const source = new FileDatasetStore(join(dir, 'source.zarr'));
    const objects = new Map<string, Uint8Array>();
    for (const key of await source.list('')) objects.set(key, (await source.get(key))!);
    bytes = [...objects.values()].reduce((n, b) => n + b.length, 0);
    count = objects.size;
    await putAll(new S3DatasetStore(`s3://${BUCKET}/warm.zarr`, { endpoint: s3.endpoint }), objects);
    for (let round = 0; round < ROUNDS; round++) {
      const disk = new FileDatasetStore(join(dir, `put-${round}.zarr`));
      const remote = new S3DatasetStore(`s3://${BUCKET}/put-${round}.zarr`, { endpoint: s3.endpoint });
      let own = ownCpuMs();
      samples.disk.push(await time(() => putAll(disk, objects)));
      cpu.disk += ownCpuMs() - own;
      [own, cpu.server] = [ownCpuMs(), cpu.server - processCpuMs(s3.pid)];
      samples.s3.push(await time(() => putAll(remote, objects)));
      [cpu.client, cpu.server] = [cpu.client + ownCpuMs() - own, cpu.server + processCpuMs(s3.pid)];
      samples.extractDisk.push(await time(() => extract(model, data, join(dir, `run-${round}.zarr`))));
      samples.extractS3.push(await time(() => extract(model, data, `s3://${BUCKET}/run-${round}.zarr`, s3.endpoint)));
    }
  } finally {
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
    await model.release();
  }
  const mbps = (ms: number) => `${(bytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s`;
  const perMiB = (ms: number) => (ms / ROUNDS / (bytes / 2 ** 20)).toFixed(1);
  const ips = (ms: number) => `${((ITEMS / ms) * 1000).toFixed(0)} items/s`;
  const [disk, s3Put, extractDisk, extractS3] = [samples.disk, samples.s3, samples.extractDisk, samples.extractS3].map(
    (s) => stats(s),
  );
  return [
    {
      case: `s3 upload, ${count} store objects (${(bytes / 2 ** 20).toFixed(1)} MiB), ${IN_FLIGHT} in flight: ${mbps(s3Put.median)} vs disk ${mbps(disk.median)} (throughput ratio ${(disk.median / s3Put.median).toFixed(2)})`,
      ours: s3Put,
      baseline: `the same objects into a local directory store, ${IN_FLIGHT} at a time`,
      baselineMs: disk.median,
      ratio: s3Put.median / disk.median,
      target: '≤ 2 (≥ 0.5× the disk store’s throughput)',
      note: `local S3 server: s3rver on loopback (test/helpers/s3-server.ts); CPU per MiB: disk store ${perMiB(cpu.disk)}, S3 client ${perMiB(cpu.client)}, s3rver ${perMiB(cpu.server)} ms`,
    },
    {
      case: `dataset ${ITEMS} digits → s3:// zarr: ${ips(extractS3.median)} vs → disk ${ips(extractDisk.median)}`,
      ours: extractS3,
      baseline: 'the same extraction into a local .zarr',
      baselineMs: extractDisk.median,
      ratio: extractS3.median / extractDisk.median,
      target: '≤ 2 (≥ 0.5× the disk store’s items/s)',
    },
  ];
}

// `node --import tsx bench/s3.ts`: these rows alone.
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await s3Cases(join(import.meta.dirname, '..'), Number(process.env.BENCH_THREADS ?? 2)))
    console.log(
      `${r.case}${r.note ? `\n  note: ${r.note}` : ''}\n  median ${r.ours.median.toFixed(0)} ms (${r.ours.min.toFixed(0)}–${r.ours.max.toFixed(0)}), baseline ${r.baselineMs?.toFixed(0)} ms, ratio ${r.ratio?.toFixed(2)}, target ${r.target}`,
    );
}
