/**
 * Checks on an output path made before a command runs the model, so a wrong `--out` fails in a
 * second instead of after the run (the writers themselves write through a temporary name).
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { NeurotapError } from '../errors.js';

/** Fails unless the directory that would hold `path` exists. */
export async function checkParentDirectory(path: string): Promise<void> {
  const parent = dirname(resolve(path));
  const exists = await stat(parent).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!exists) {
    throw new NeurotapError(
      'E_OUTPUT_PATH',
      `Expected to write ${path}; could not: its directory ${parent} does not exist.`,
      { hint: 'Create the directory first, or write somewhere that exists.', details: { path } },
    );
  }
}
