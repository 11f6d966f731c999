/**
 * `npm run build:viewer`: the viewer as a static site in dist/viewer/ (the page, its worker,
 * ONNX Runtime's WASM and the digits demo). Serve the folder from any static host and open it;
 * drop any .onnx file on the page to look at another model.
 */
import { relative } from 'node:path';
import { buildViewer, DEFAULT_VIEWER_DIR } from '../src/cli/view-build.js';

const started = performance.now();
const files = await buildViewer({ outDir: DEFAULT_VIEWER_DIR, standalone: true });
const ms = (performance.now() - started).toFixed(0);
process.stdout.write(
  `built the viewer in ${ms} ms: ${files.length} files in ${relative(process.cwd(), DEFAULT_VIEWER_DIR) || '.'}/\n`,
);
process.stdout.write(
  'serve it with any static server, e.g. `npx serve dist/viewer` or `python3 -m http.server -d dist/viewer`\n',
);
