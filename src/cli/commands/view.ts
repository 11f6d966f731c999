/**
 * `neurotap view [MODEL]`: serves the viewer for a model on 127.0.0.1 and prints its URL; the
 * page runs the model in the browser (onnxruntime-web) and shows every layer's activations.
 * Without MODEL it shows the bundled digits CNN. Runs until Ctrl-C.
 */
import { IMAGENET_MEAN, IMAGENET_STD } from '../../node/image.js';
import type { ImagePreprocessing } from '../../viewer-core/image-input.js';
import { IMAGE_ARGS, type ImageFlags } from '../inputs.js';
import { imageFlags } from './extract.js';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ArgsDef } from 'citty';
import { flagCommand, isSet, lastValue, parseInteger } from '../argv.js';
import { NeurotapError } from '../../errors.js';
import { openModel } from '../model-info.js';
import { DEMO_MODEL, ensureViewerBuilt } from '../view-build.js';
import { openBrowser } from '../view-open.js';
import { startViewerServer, type ViewerServer } from '../view-server.js';

/** Tried first when --port is not given; a free port is used if it is taken. */
export const DEFAULT_PORT = 8737;

const args = {
  model: { type: 'positional', required: false, description: 'The .onnx file (default: the bundled digits CNN)' },
  port: {
    type: 'string',
    alias: 'p',
    valueHint: 'N',
    description: `Port on 127.0.0.1 (default ${DEFAULT_PORT}, or a free one; 0 for any free port)`,
  },
  open: {
    type: 'boolean',
    default: true,
    description: 'Open a browser (only on a terminal with a display); --no-open to only print the URL',
  },
  json: { type: 'boolean', description: 'Print {"url": ...} as JSON' },
  ...IMAGE_ARGS,
} satisfies ArgsDef;

export default flagCommand(
  { name: 'view', description: 'Show the activations of every layer in a browser (served on 127.0.0.1 until Ctrl-C)' },
  args,
  'Give at most one model: neurotap view [MODEL].',
  async (model, flags) => {
    const portFlag = lastValue(flags, 'port');
    const port = portFlag === undefined ? undefined : parseInteger(portFlag, 'port', 0);
    if (port !== undefined && port > 65535)
      throw new NeurotapError('E_BAD_ARGUMENT', `Expected --port between 0 and 65535; got ${port}.`, {
        hint: 'E.g. --port 8080, or --port 0 for any free port.',
      });
    const server = await serve(model, port, viewerImage(imageFlags(flags)));
    const interrupted = untilInterrupted(); // listening before the URL is out: a quick Ctrl-C still exits cleanly
    process.stdout.write(
      isSet(flags, 'json')
        ? `${JSON.stringify({ url: server.url })}\n`
        : `neurotap viewer: ${server.url}  (Ctrl-C to stop)\n`,
    );
    if (lastValue(flags, 'open') !== 'false' && process.stdout.isTTY) openBrowser(server.url);
    await interrupted;
    await server.close();
  },
);

/** Whether the file is the bundled digits model (by content, so a copy counts too). */
async function isDemo(path: string): Promise<boolean> {
  if (resolve(path) === resolve(DEMO_MODEL)) return true;
  const [a, b] = await Promise.all([stat(path), stat(DEMO_MODEL).catch(() => undefined)]);
  return b !== undefined && a.size === b.size && Buffer.compare(await readFile(path), await readFile(DEMO_MODEL)) === 0;
}

/** The image flags as the page applies them (channels come from the model's declared input there). */
function viewerImage(flags: ImageFlags): ImagePreprocessing | undefined {
  const size = flags.size;
  const sized =
    flags.resize !== undefined || flags.centerCrop !== undefined
      ? { resize: flags.resize, centerCrop: flags.centerCrop }
      : size === undefined
        ? {}
        : typeof size === 'number'
          ? { resize: size, centerCrop: size }
          : { resize: size };
  const mean = flags.mean ?? (flags.imagenet ? [...IMAGENET_MEAN] : undefined);
  const std = flags.std ?? (flags.imagenet ? [...IMAGENET_STD] : undefined);
  const image = { ...sized, ...(mean ? { mean } : {}), ...(std ? { std } : {}) };
  return Object.keys(image).length ? image : undefined;
}

async function serve(
  modelArg: string | undefined,
  port: number | undefined,
  image: ImagePreprocessing | undefined,
): Promise<ViewerServer> {
  const modelPath = modelArg ?? DEMO_MODEL;
  const model = await openModel(modelPath); // a missing or non-ONNX file fails here, with its own error
  await model.release();
  const options = { modelPath, demo: await isDemo(modelPath), assetsDir: await ensureViewerBuilt(), image };
  if (port !== undefined) return startViewerServer({ ...options, port });
  return startViewerServer({ ...options, port: DEFAULT_PORT }).catch(() => startViewerServer({ ...options, port: 0 }));
}

function untilInterrupted(): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
