/**
 * Execution providers whose native libraries onnxruntime-node does not bundle (CUDA, TensorRT: its
 * install script downloads them, which `onnxruntime-node-install=skip` turns off). Asking ONNX Runtime
 * for one that is absent fails the whole session with a native log; checked here first instead, so
 * `--ep cuda,cpu` runs on the CPU with a warning that names the missing file.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { NeurotapError } from '../errors.js';

/** Provider name to the library its onnxruntime-node build loads (as ONNX Runtime names the files). */
const DOWNLOADED: Readonly<Record<string, string>> = { cuda: 'cuda', tensorrt: 'tensorrt' };

function libraryFile(provider: string): string {
  const base = `onnxruntime_providers_${provider}`;
  if (process.platform === 'win32') return `${base}.dll`;
  return process.platform === 'darwin' ? `lib${base}.dylib` : `lib${base}.so`;
}

/** onnxruntime-node's native folder for this platform, or undefined where its layout is not the known one. */
function nativeFolder(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const folder = join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(folder) ? folder : undefined;
  } catch {
    return undefined;
  }
}

export interface ResolvedProviders {
  readonly providers: string[] | undefined;
  /** One sentence per provider dropped, naming the missing library. */
  readonly warnings: string[];
}

const INSTALL_HINT =
  'Fetch the CUDA binaries with ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (network access and CUDA 12 needed).';

/** The requested providers minus those whose library is absent; all of them absent is an error. */
export function resolveExecutionProviders(requested: readonly string[] | undefined): ResolvedProviders {
  const folder = nativeFolder();
  if (!requested || !folder) return { providers: requested ? [...requested] : undefined, warnings: [] };
  const missing = (p: string) => {
    const lib = DOWNLOADED[p.toLowerCase()];
    return lib !== undefined && !existsSync(join(folder, libraryFile(lib)));
  };
  const kept = requested.filter((p) => !missing(p));
  const dropped = requested.filter(missing);
  const warnings = dropped.map(
    (p) =>
      `execution provider '${p}' is not installed (${join(folder, libraryFile(DOWNLOADED[p.toLowerCase()]))} is missing): running on ${kept.join(', ')}. ${INSTALL_HINT}`,
  );
  if (dropped.length && kept.length === 0) {
    throw new NeurotapError(
      'E_MISSING_DEPENDENCY',
      `Execution provider ${dropped.map((p) => `'${p}'`).join(', ')} is not installed: ${join(folder, libraryFile(DOWNLOADED[dropped[0].toLowerCase()]))} is missing.`,
      {
        hint: `${INSTALL_HINT} Or add cpu as a fallback: executionProviders [${[...dropped, 'cpu'].map((p) => `'${p}'`).join(', ')}].`,
        details: { missing: dropped },
      },
    );
  }
  return { providers: kept, warnings };
}
