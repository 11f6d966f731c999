/**
 * TypeScript shapes of the decoded ONNX messages (see schema.ts). Every message may carry
 * `$unknown`: the raw bytes of fields this version does not know, written back as they were.
 */
import type { Int64 } from './wire.js';

export interface Message {
  $unknown?: Uint8Array[];
}

export interface StringStringEntryProto extends Message {
  key?: string;
  value?: string;
}
export interface OperatorSetIdProto extends Message {
  domain?: string;
  version?: Int64;
}

export interface DimensionProto extends Message {
  dimValue?: Int64;
  dimParam?: string;
  denotation?: string;
}
export interface TensorShapeProto extends Message {
  dim?: DimensionProto[];
}
export interface TypeTensorProto extends Message {
  elemType?: number;
  shape?: TensorShapeProto;
}
export interface TypeProto extends Message {
  tensorType?: TypeTensorProto;
  sequenceType?: { elemType?: TypeProto } & Message;
  mapType?: { keyType?: number; valueType?: TypeProto } & Message;
  optionalType?: { elemType?: TypeProto } & Message;
  sparseTensorType?: TypeTensorProto;
  denotation?: string;
}

export interface ValueInfoProto extends Message {
  name?: string;
  type?: TypeProto;
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface TensorProto extends Message {
  dims?: Int64[];
  dataType?: number;
  segment?: { begin?: Int64; end?: Int64 } & Message;
  floatData?: number[];
  int32Data?: number[];
  stringData?: Uint8Array[];
  int64Data?: Int64[];
  name?: string;
  docString?: string;
  /** A view into the bytes the model was read from: never copied. */
  rawData?: Uint8Array;
  externalData?: StringStringEntryProto[];
  /** 0 = DEFAULT, 1 = EXTERNAL. */
  dataLocation?: number;
  doubleData?: number[];
  uint64Data?: Int64[];
  metadataProps?: StringStringEntryProto[];
}

export interface SparseTensorProto extends Message {
  values?: TensorProto;
  indices?: TensorProto;
  dims?: Int64[];
}

export interface AttributeProto extends Message {
  name?: string;
  refAttrName?: string;
  docString?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparseTensor?: SparseTensorProto;
  tp?: TypeProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparseTensors?: SparseTensorProto[];
  typeProtos?: TypeProto[];
}

export interface NodeProto extends Message {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  overload?: string;
  attribute?: AttributeProto[];
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface GraphProto extends Message {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparseInitializer?: SparseTensorProto[];
  docString?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  quantizationAnnotation?: Message[];
  metadataProps?: StringStringEntryProto[];
}

export interface FunctionProto extends Message {
  name?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attributeProto?: AttributeProto[];
  node?: NodeProto[];
  docString?: string;
  opsetImport?: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  valueInfo?: ValueInfoProto[];
  metadataProps?: StringStringEntryProto[];
}

export interface ModelProto extends Message {
  irVersion?: Int64;
  opsetImport?: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph?: GraphProto;
  metadataProps?: StringStringEntryProto[];
  trainingInfo?: Message[];
  functions?: FunctionProto[];
}

/** AttributeProto.AttributeType values used when rewriting graphs. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  GRAPHS: 10,
} as const;

/** TensorProto.DataType: the element type of a tensor, as onnx.proto numbers it. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;
