/**
 * A real S3 server for the tests: s3rver (an S3-compatible server on the file system, from npm)
 * in its own process on a loopback port, one bucket, credentials S3RVER/S3RVER; and a small HTTP proxy in front of
 * it that throttles (503 SlowDown), drops connections, and calls back on PUTs (to kill a writer
 * mid-upload). Objects are read back with the AWS SDK directly, not through neurotap's store.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BIN, ROOT, type Run } from './dataset.js';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

export const BUCKET = 'neurotap-test';

export interface LocalS3 {
  endpoint: string;
  /** The server's process (for the bench's CPU accounting). */
  pid: number;
  /** What a child process needs to reach it (credentials, region, no instance-metadata lookups). */
  env: Record<string, string>;
  client: S3Client;
  close(): Promise<void>;
}

export const S3_ENV = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** Starts the server process (test/helpers/s3-server.ts) over a fresh temporary directory. */
export async function startS3(): Promise<LocalS3> {
  const directory = mkdtempSync(join(tmpdir(), 'neurotap-s3rver-'));
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', join(import.meta.dirname, 's3-server.ts'), directory, BUCKET],
    { cwd: join(import.meta.dirname, '..', '..'), stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const endpoint = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  Object.assign(process.env, S3_ENV); // for this process's SDK clients too
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    endpoint,
    pid: child.pid!,
    env: { ...S3_ENV, AWS_ENDPOINT_URL: endpoint },
    client,
    close: async () => {
      client.destroy();
      const exited = once(child, 'exit');
      child.stdin!.end();
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Every object under `prefix/` (key relative to it -> bytes), read with the SDK. */
export async function objectsUnder(client: S3Client, prefix: string): Promise<Map<string, Buffer>> {
  const objects = new Map<string, Buffer>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/`, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }));
      objects.set(o.Key!.slice(prefix.length + 1), Buffer.from(await got.Body!.transformToByteArray()));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

export interface ProxyOptions {
  /** Answer every Nth PUT with 503 SlowDown instead of forwarding it. */
  slowDownEvery?: number;
  /** Drop the connection of these PUTs (by count, from 1) without answering. */
  dropPuts?: number[];
  /** Never answer these PUTs (the connection stays open and silent until the proxy closes). */
  stallPuts?: number[];
  /** Called with the count and object key of each PUT before it is forwarded. */
  onPut?: (count: number, key: string) => void;
}

export interface Proxy {
  endpoint: string;
  /** Keys of the PUTs forwarded to the server (in order), and how many were refused or dropped. */
  forwarded: string[];
  slowedDown: number;
  dropped: number;
  stalled: number;
  /** The most PUTs the proxy held open at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

const SLOW_DOWN = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>test</RequestId></Error>`;

/** Reads a request body whole (a refused PUT is read first, as S3 does, so the client sees the answer). */
const drain = (req: IncomingMessage) =>
  new Promise<void>((resolve) => {
    req.on('data', () => undefined);
    req.on('end', resolve);
    req.on('error', () => resolve());
  });

export async function startProxy(target: string, options: ProxyOptions = {}): Promise<Proxy> {
  const { port: targetPort } = new URL(target);
  const state = { forwarded: [] as string[], slowedDown: 0, dropped: 0, stalled: 0, maxInFlight: 0 };
  let puts = 0;
  let open = 0;
  const server: Server = createServer(async (req, res) => {
    if (req.method === 'PUT') {
      const count = ++puts;
      state.maxInFlight = Math.max(state.maxInFlight, ++open);
      res.on('close', () => open--);
      const key = decodeURIComponent(new URL(req.url!, 'http://x').pathname.split('/').slice(2).join('/'));
      if (options.dropPuts?.includes(count)) {
        state.dropped++;
        await drain(req);
        req.socket.destroy();
        return;
      }
      if (options.stallPuts?.includes(count)) {
        state.stalled++;
        await drain(req);
        return;
      }
      if (options.slowDownEvery && count % options.slowDownEvery === 0) {
        state.slowedDown++;
        await drain(req);
        res.writeHead(503, { 'content-type': 'application/xml' }).end(SLOW_DOWN);
        return;
      }
      options.onPut?.(count, key);
      state.forwarded.push(key);
    }
    const upstream = request(
      { host: '127.0.0.1', port: Number(targetPort), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get forwarded() {
      return state.forwarded;
    },
    get slowedDown() {
      return state.slowedDown;
    },
    get dropped() {
      return state.dropped;
    },
    get stalled() {
      return state.stalled;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A CLI child (the build in dist/, as the other CLI tests run it) with extra environment; `done` settles when it exits. */
export function spawnCli(env: Record<string, string>, args: string[]): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((resolve) =>
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })),
  );
  return { child, done };
}
