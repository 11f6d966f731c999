/**
 * `neurotap torch-helper [--path]`: the PyTorch side of neurotap, `neurotap_torch.py` (`dump` and
 * `export`), shipped in the package. It prints the file (`> neurotap_torch.py`), or its path.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ArgsDef } from 'citty';
import { NeurotapError } from '../../errors.js';
import { flagCommand, isSet } from '../argv.js';

// src/cli/commands/ and dist/cli/commands/ both sit three levels below the package root.
const HELPER = new URL('../../../python/neurotap_torch.py', import.meta.url);

const args = {
  path: { type: 'boolean', description: 'Print the path of neurotap_torch.py instead of its content' },
} satisfies ArgsDef;

export default flagCommand(
  {
    name: 'torch-helper',
    description: 'Print neurotap_torch.py (dump PyTorch hook outputs; export with every module observable)',
  },
  args,
  'neurotap torch-helper > neurotap_torch.py, or neurotap torch-helper --path.',
  async (_, flags) => {
    const path = fileURLToPath(HELPER);
    const text = await readFile(path, 'utf8').catch((cause) => {
      throw new NeurotapError('E_FILE_NOT_FOUND', `neurotap_torch.py is missing from the package (${path}).`, {
        hint: 'Reinstall neurotap; the file ships in its python/ folder.',
        cause,
      });
    });
    process.stdout.write(isSet(flags, 'path') ? `${path}\n` : text);
  },
);
