"""Makes the small numpy/safetensors fixtures that test/io.test.ts reads.

Run from anywhere with: /usr/bin/python3 test/data/io/make.py
Only numpy is needed; the safetensors file is written by hand (the format is tiny),
so the test checks our reader against the spec rather than against our own writer.
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# Shape (2, 3) each; the same values are spelled out in test/io.test.ts.
VALUES = {
    'f4': [0, 1, -2.5, 0.1, 3.4028234663852886e38, -np.inf],
    'f8': [0, 1, -2.5, 0.1, 1e300, np.nan],
    'f2': [0, 1, -2, 65504, 2.0 ** -24, np.inf],
    'i1': [-128, -1, 0, 1, 127, 5],
    'u1': [0, 1, 2, 127, 128, 255],
    'i2': [-32768, -1, 0, 1, 32767, 5],
    'u2': [0, 1, 2, 32768, 65535, 7],
    'i4': [-2**31, -1, 0, 1, 2**31 - 1, 5],
    'u4': [0, 1, 2, 2**31, 2**32 - 1, 7],
    'i8': [-2**63, -1, 0, 1, 2**63 - 1, 2**53 + 1],
    'u8': [0, 1, 2, 2**63, 2**64 - 1, 2**53 + 1],
    'b1': [True, False, True, True, False, False],
}


def array(code, order='<'):
    byte_order = '|' if code[1] == '1' else order
    return np.array(VALUES[code], dtype=byte_order + code).reshape(2, 3)


def path(name):
    return os.path.join(HERE, name)


def write_npy_files():
    for code in VALUES:
        np.save(path(f'{code}.npy'), array(code))
    np.save(path('be_f4.npy'), array('f4', '>'))
    np.save(path('be_i8.npy'), array('i8', '>'))
    np.save(path('fortran.npy'), np.asfortranarray(array('i4')))
    np.save(path('scalar.npy'), np.float64(3.5))
    for version in [(2, 0), (3, 0)]:
        with open(path(f'v{version[0]}.npy'), 'wb') as f:
            np.lib.format.write_array(f, array('f4'), version=version)


def write_npz_files():
    arrays = {'layer1.0:out': array('f4'), 'a/b': array('i8'), 'x#1': array('b1'), 'half': array('f2')}
    np.savez(path('stored.npz'), **arrays)
    np.savez_compressed(path('compressed.npz'), **arrays)


def write_safetensors():
    f32 = np.array([1, -2, 0.5, 3], dtype='<f4').tobytes()
    # bfloat16 = the top half of a float32; these values are exact in bfloat16.
    bf16 = (np.array([1.5, -2, 0.15625], dtype='<f4').view('<u4') >> 16).astype('<u2').tobytes()
    i64 = np.array([7], dtype='<i8').tobytes()
    f16 = np.array([1, -2], dtype='<f2').tobytes()
    mask = bytes([1, 0])
    blobs = [('step', 'I64', [], i64), ('weight', 'F32', [2, 2], f32),
             ('bias', 'BF16', [3], bf16), ('half', 'F16', [2], f16), ('mask', 'BOOL', [2], mask)]
    header = {'__metadata__': {'format': 'pt', 'note': 'made by hand'}}
    offset = 0
    for name, dtype, shape, blob in blobs:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
    text = json.dumps(header).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path('hand.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(b for *_, b in blobs))


if __name__ == '__main__':
    write_npy_files()
    write_npz_files()
    write_safetensors()
