/**
 * The HTTP server behind `neurotap view`: the built viewer, the model's bytes, the demo samples
 * and ONNX Runtime's WASM, on loopback only, read-only, nothing outside those folders.
 * Safe from other origins (SECURITY.md): a request whose Host is not this loopback address and
 * port is refused (DNS rebinding), and the data (config, model, samples) is served only under a
 * random per-run token in the URL path, which a page on another origin cannot guess.
 *
 * ```ts
 * const server = await startViewerServer({ modelPath: 'cnn.onnx', port: 0 });
 * console.log(server.url); // http://127.0.0.1:40123/Xw3…/
 * await server.close();
 * ```
 */
import type { ImagePreprocessing } from '../viewer-core/image-input.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename, extname, resolve, sep } from 'node:path';
import { NeurotapError } from '../errors.js';
import { DEFAULT_VIEWER_DIR, DEMO_DEFAULT_SAMPLE, DEMO_SAMPLES, demoSamples, ortDistDir } from './view-build.js';

export interface ViewerServerOptions {
  /** The model to show; without one the folder is served as it is (a standalone build). */
  modelPath?: string;
  /** Whether the model is the bundled digits demo: the page then starts from a sample digit. */
  demo?: boolean;
  /** 0 picks a free port. */
  port?: number;
  /** The built viewer (default dist/viewer). */
  assetsDir?: string;
  /** The path segment the data is served under (default: 24 random characters per server). */
  token?: string;
  /** How the page preprocesses uploaded images (the CLI's image flags). */
  image?: ImagePreprocessing;
}

export interface ViewerServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.npy': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
};

/** `dir/relative` if it stays inside dir, else undefined (no `..` escapes). */
function inside(dir: string, relative: string): string | undefined {
  const root = resolve(dir);
  const path = resolve(root, `.${sep}${relative}`);
  return path.startsWith(root + sep) ? path : undefined;
}

async function sendFile(res: ServerResponse, path: string | undefined, head: boolean): Promise<void> {
  const info = path ? await stat(path).catch(() => undefined) : undefined;
  if (!path || !info?.isFile()) return sendText(res, 404, 'Not found');
  res.writeHead(200, {
    'content-type': TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': 'no-store',
  });
  if (head) return void res.end();
  createReadStream(path)
    .on('error', () => res.destroy())
    .pipe(res);
}

function sendText(res: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

/** URLs relative to the page, so they stay under its token. */
async function viewerConfig(options: ViewerServerOptions): Promise<string> {
  const name = encodeURIComponent(basename(options.modelPath!));
  const samples = options.demo ? (await demoSamples()).map((s) => ({ ...s, url: `demo/${s.file}` })) : [];
  return JSON.stringify({
    model: { url: `model/${name}` },
    wasmPaths: 'ort/',
    samples,
    ...(options.demo ? { defaultSample: DEMO_DEFAULT_SAMPLE } : {}),
    ...(options.image ? { image: options.image } : {}),
  });
}

function decodePath(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url, 'http://localhost').pathname);
  } catch {
    return undefined; // malformed percent-encoding
  }
}

/** Whether the Host header names this server as the browser reached it: no rebound name. */
function hostAllowed(host: string | undefined, port: number): boolean {
  const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  return host !== undefined && allowed.includes(host.toLowerCase());
}

/** The path after `/<token>`, or undefined when the path does not start with the token. */
function afterToken(path: string, token: string): string | undefined {
  const end = path.indexOf('/', 1);
  const given = Buffer.from(path.slice(1, end < 0 ? undefined : end));
  const wanted = Buffer.from(token);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
  return end < 0 ? '' : path.slice(end);
}

/**
 * Routes a GET or HEAD to a file (or the config); everything else is refused. With a model, the
 * data lives under the token only; the viewer's code and ONNX Runtime are also served without it.
 */
async function route(
  req: IncomingMessage,
  res: ServerResponse,
  options: ViewerServerOptions,
  site: { assets: string; token: string; port: number },
): Promise<void> {
  if (!hostAllowed(req.headers.host, site.port)) return sendText(res, 403, 'Forbidden: unexpected Host header');
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method not allowed');
  const head = req.method === 'HEAD';
  const decoded = decodePath(req.url ?? '/');
  if (decoded === undefined) return sendText(res, 400, 'Bad request');
  const rest = options.modelPath ? afterToken(decoded, site.token) : decoded;
  if (rest === '') return redirect(res, `/${site.token}/`);
  const path = rest ?? decoded;
  const data = path === '/config.json' || path.startsWith('/model/') || path.startsWith('/demo/');
  if (options.modelPath && data && rest === undefined)
    return sendText(res, 403, 'Forbidden: open the URL neurotap view printed');
  if (options.modelPath && path === '/config.json')
    return sendText(res, 200, await viewerConfig(options), TYPES['.json']);
  if (options.modelPath && path.startsWith('/model/')) return sendFile(res, options.modelPath, head);
  if (options.demo && path.startsWith('/demo/'))
    return sendFile(res, inside(DEMO_SAMPLES, path.slice('/demo/'.length)), head);
  if (path.startsWith('/ort/')) {
    const own = inside(site.assets, path.slice(1));
    const found =
      own && (await stat(own).catch(() => undefined)) ? own : inside(ortDistDir(), path.slice('/ort/'.length));
    return sendFile(res, found, head);
  }
  return sendFile(res, inside(site.assets, path === '/' ? 'index.html' : path.slice(1)), head);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(308, { location, 'cache-control': 'no-store' });
  res.end();
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', fail);
      done((server.address() as { port: number }).port);
    });
  });
}

/** Starts serving on 127.0.0.1; a port that is taken or not allowed is an E_BAD_ARGUMENT. */
export async function startViewerServer(options: ViewerServerOptions = {}): Promise<ViewerServer> {
  const site = {
    assets: options.assetsDir ?? DEFAULT_VIEWER_DIR,
    token: options.token ?? randomBytes(18).toString('base64url'),
    port: 0,
  };
  const server = createServer((req, res) => {
    route(req, res, options, site).catch(() =>
      res.headersSent ? res.destroy() : sendText(res, 500, 'Internal error'),
    );
  });
  let port: number;
  try {
    port = site.port = await listen(server, options.port ?? 0);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE' ? 'is in use' : code === 'EACCES' ? 'needs privileges' : `cannot be used (${code})`;
    throw new NeurotapError('E_BAD_ARGUMENT', `Port ${options.port} on 127.0.0.1 ${why}.`, {
      hint: 'Pick another --port, or leave it out to use a free one.',
      cause,
    });
  }
  return {
    url: `http://127.0.0.1:${port}/${options.modelPath ? `${site.token}/` : ''}`,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
