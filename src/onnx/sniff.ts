/**
 * What a file that is not an ONNX model is, from its first bytes: the protobuf decoder alone can
 * only say "wire type 3 at byte 0" about a README, a PNG or a PyTorch checkpoint.
 */

const startsWith = (bytes: Uint8Array, magic: readonly number[]) => magic.every((b, i) => bytes[i] === b);
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** Magic numbers of formats people pass by mistake, with what to do instead. */
const KNOWN: readonly { magic: readonly number[]; what: string; hint: string }[] = [
  {
    magic: ascii('version https://git-lfs'),
    what: 'a Git LFS pointer (the model was never downloaded)',
    hint: 'Run `git lfs pull` (or download the file itself) and pass the real .onnx.',
  },
  {
    magic: [0x50, 0x4b, 0x03, 0x04],
    what: 'a zip archive (a PyTorch .pt/.pth checkpoint or an .npz?)',
    hint: 'Export the model with torch.onnx.export(model, args, "model.onnx") and pass that file.',
  },
  {
    magic: [0x89, 0x50, 0x4e, 0x47],
    what: 'a PNG image',
    hint: 'This is an input, not a model: pass the .onnx file as the model.',
  },
  {
    magic: [0xff, 0xd8, 0xff],
    what: 'a JPEG image',
    hint: 'This is an input, not a model: pass the .onnx file as the model.',
  },
  {
    magic: [0x93, ...ascii('NUMPY')],
    what: 'a NumPy .npy array',
    hint: 'This is an input, not a model: pass the .onnx file as the model.',
  },
  { magic: [0x1f, 0x8b], what: 'gzip-compressed', hint: 'Decompress it first (gunzip).' },
  {
    magic: [0x80, 0x02],
    what: 'a Python pickle (a PyTorch checkpoint?)',
    hint: 'Export the model with torch.onnx.export and pass the .onnx file.',
  },
];

/** Tab, newline, carriage return and printable ASCII: a text file, which no ONNX model starts with. */
function isText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 64);
  return head.length >= 8 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
}

/** A description and hint when the bytes are recognisably something else than an ONNX model. */
export function notOnnx(bytes: Uint8Array): { what: string; hint: string } | undefined {
  if (bytes.length === 0) return { what: 'empty', hint: 'The file has no bytes: check the path and the download.' };
  const known = KNOWN.find((k) => startsWith(bytes, k.magic));
  if (known) return known;
  if (isText(bytes)) {
    const start = new TextDecoder().decode(bytes.subarray(0, 40)).replace(/\s+/g, ' ').trim();
    return {
      what: `text (it starts with '${start}${bytes.length > 40 ? '…' : ''}')`,
      hint: 'An ONNX model is a binary protobuf file written by torch.onnx.export; pass that file.',
    };
  }
  return undefined;
}
