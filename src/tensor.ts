/**
 * A tensor held in JS memory: what a capture returns and what file readers produce.
 * It is structurally what onnxruntime's Tensor exposes (`type`, `dims`, `data`), so an ORT
 * Tensor can be used wherever a HostTensor is read.
 */
import { DataType } from './onnx/types.js';

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface HostTensor {
  readonly type: DType;
  readonly dims: readonly number[];
  readonly data: TypedArray | string[];
}

/** Plain feed form accepted everywhere a tensor is: a typed array and its shape. */
export interface PlainTensor {
  readonly data: TypedArray;
  readonly dims: readonly number[];
  readonly type?: DType;
}

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** The element type a typed array stores; float16/bfloat16 ride in Uint16Array and must be named. */
export function dtypeOfArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'uint64';
}

/** Our dtype names, by ONNX TensorProto.DataType number. */
export const ONNX_DTYPE: Record<number, DType> = {
  [DataType.FLOAT]: 'float32',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
  [DataType.UINT16]: 'uint16',
  [DataType.INT16]: 'int16',
  [DataType.INT32]: 'int32',
  [DataType.INT64]: 'int64',
  [DataType.STRING]: 'string',
  [DataType.BOOL]: 'bool',
  [DataType.FLOAT16]: 'float16',
  [DataType.DOUBLE]: 'float64',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64',
  [DataType.BFLOAT16]: 'bfloat16',
};
