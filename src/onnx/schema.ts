/**
 * The ONNX protobuf messages (onnx.proto, ONNX 1.17 plus 1.18's fields), as field tables for the
 * codec in codec.ts. Names are the camelCase of onnx.proto's. Fields a table does not list are
 * kept as raw bytes and written back unchanged, so newer models survive a round trip.
 */
export type ScalarType = 'int64' | 'int32' | 'float' | 'double' | 'string' | 'bytes';

export interface FieldSpec {
  readonly no: number;
  readonly name: string;
  readonly type: ScalarType | (() => MessageSpec);
  readonly repeated?: boolean;
  /** Written packed (proto2 `[packed = true]`); readers accept both forms regardless. */
  readonly packed?: boolean;
}

export interface MessageSpec {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
}

const f = (no: number, name: string, type: FieldSpec['type'], extra: Partial<FieldSpec> = {}): FieldSpec => ({
  no,
  name,
  type,
  ...extra,
});
const many = { repeated: true };
const packed = { repeated: true, packed: true };

export const StringStringEntry: MessageSpec = {
  name: 'StringStringEntryProto',
  fields: [f(1, 'key', 'string'), f(2, 'value', 'string')],
};
export const OperatorSetId: MessageSpec = {
  name: 'OperatorSetIdProto',
  fields: [f(1, 'domain', 'string'), f(2, 'version', 'int64')],
};

export const Dimension: MessageSpec = {
  name: 'TensorShapeProto.Dimension',
  fields: [f(1, 'dimValue', 'int64'), f(2, 'dimParam', 'string'), f(3, 'denotation', 'string')],
};
export const TensorShape: MessageSpec = { name: 'TensorShapeProto', fields: [f(1, 'dim', () => Dimension, many)] };

export const TypeTensor: MessageSpec = {
  name: 'TypeProto.Tensor',
  fields: [f(1, 'elemType', 'int32'), f(2, 'shape', () => TensorShape)],
};
export const TypeSequence: MessageSpec = { name: 'TypeProto.Sequence', fields: [f(1, 'elemType', () => Type)] };
export const TypeMap: MessageSpec = {
  name: 'TypeProto.Map',
  fields: [f(1, 'keyType', 'int32'), f(2, 'valueType', () => Type)],
};
export const TypeOptional: MessageSpec = { name: 'TypeProto.Optional', fields: [f(1, 'elemType', () => Type)] };
export const Type: MessageSpec = {
  name: 'TypeProto',
  fields: [
    f(1, 'tensorType', () => TypeTensor),
    f(4, 'sequenceType', () => TypeSequence),
    f(5, 'mapType', () => TypeMap),
    f(9, 'optionalType', () => TypeOptional),
    f(8, 'sparseTensorType', () => TypeTensor),
    f(6, 'denotation', 'string'),
  ],
};

export const ValueInfo: MessageSpec = {
  name: 'ValueInfoProto',
  fields: [
    f(1, 'name', 'string'),
    f(2, 'type', () => Type),
    f(3, 'docString', 'string'),
    f(4, 'metadataProps', () => StringStringEntry, many),
  ],
};

export const Segment: MessageSpec = {
  name: 'TensorProto.Segment',
  fields: [f(1, 'begin', 'int64'), f(2, 'end', 'int64')],
};
export const Tensor: MessageSpec = {
  name: 'TensorProto',
  fields: [
    f(1, 'dims', 'int64', many),
    f(2, 'dataType', 'int32'),
    f(3, 'segment', () => Segment),
    f(4, 'floatData', 'float', packed),
    f(5, 'int32Data', 'int32', packed),
    f(6, 'stringData', 'bytes', many),
    f(7, 'int64Data', 'int64', packed),
    f(8, 'name', 'string'),
    f(12, 'docString', 'string'),
    f(9, 'rawData', 'bytes'),
    f(13, 'externalData', () => StringStringEntry, many),
    f(14, 'dataLocation', 'int32'),
    f(10, 'doubleData', 'double', packed),
    f(11, 'uint64Data', 'int64', packed),
    f(16, 'metadataProps', () => StringStringEntry, many),
  ],
};
export const SparseTensor: MessageSpec = {
  name: 'SparseTensorProto',
  fields: [f(1, 'values', () => Tensor), f(2, 'indices', () => Tensor), f(3, 'dims', 'int64', many)],
};

export const Attribute: MessageSpec = {
  name: 'AttributeProto',
  fields: [
    f(1, 'name', 'string'),
    f(21, 'refAttrName', 'string'),
    f(13, 'docString', 'string'),
    f(20, 'type', 'int32'),
    f(2, 'f', 'float'),
    f(3, 'i', 'int64'),
    f(4, 's', 'bytes'),
    f(5, 't', () => Tensor),
    f(6, 'g', () => Graph),
    f(22, 'sparseTensor', () => SparseTensor),
    f(14, 'tp', () => Type),
    f(7, 'floats', 'float', many),
    f(8, 'ints', 'int64', many),
    f(9, 'strings', 'bytes', many),
    f(10, 'tensors', () => Tensor, many),
    f(11, 'graphs', () => Graph, many),
    f(23, 'sparseTensors', () => SparseTensor, many),
    f(15, 'typeProtos', () => Type, many),
  ],
};

export const Node: MessageSpec = {
  name: 'NodeProto',
  fields: [
    f(1, 'input', 'string', many),
    f(2, 'output', 'string', many),
    f(3, 'name', 'string'),
    f(4, 'opType', 'string'),
    f(7, 'domain', 'string'),
    f(8, 'overload', 'string'),
    f(5, 'attribute', () => Attribute, many),
    f(6, 'docString', 'string'),
    f(9, 'metadataProps', () => StringStringEntry, many),
  ],
};

export const TensorAnnotation: MessageSpec = {
  name: 'TensorAnnotation',
  fields: [f(1, 'tensorName', 'string'), f(2, 'quantParameterTensorNames', () => StringStringEntry, many)],
};

export const Graph: MessageSpec = {
  name: 'GraphProto',
  fields: [
    f(1, 'node', () => Node, many),
    f(2, 'name', 'string'),
    f(5, 'initializer', () => Tensor, many),
    f(15, 'sparseInitializer', () => SparseTensor, many),
    f(10, 'docString', 'string'),
    f(11, 'input', () => ValueInfo, many),
    f(12, 'output', () => ValueInfo, many),
    f(13, 'valueInfo', () => ValueInfo, many),
    f(14, 'quantizationAnnotation', () => TensorAnnotation, many),
    f(16, 'metadataProps', () => StringStringEntry, many),
  ],
};

export const TrainingInfo: MessageSpec = {
  name: 'TrainingInfoProto',
  fields: [
    f(1, 'initialization', () => Graph),
    f(2, 'algorithm', () => Graph),
    f(3, 'initializationBinding', () => StringStringEntry, many),
    f(4, 'updateBinding', () => StringStringEntry, many),
  ],
};

export const Function: MessageSpec = {
  name: 'FunctionProto',
  fields: [
    f(1, 'name', 'string'),
    f(4, 'input', 'string', many),
    f(5, 'output', 'string', many),
    f(6, 'attribute', 'string', many),
    f(11, 'attributeProto', () => Attribute, many),
    f(7, 'node', () => Node, many),
    f(8, 'docString', 'string'),
    f(9, 'opsetImport', () => OperatorSetId, many),
    f(10, 'domain', 'string'),
    f(13, 'overload', 'string'),
    f(12, 'valueInfo', () => ValueInfo, many),
    f(14, 'metadataProps', () => StringStringEntry, many),
  ],
};

export const Model: MessageSpec = {
  name: 'ModelProto',
  fields: [
    f(1, 'irVersion', 'int64'),
    f(8, 'opsetImport', () => OperatorSetId, many),
    f(2, 'producerName', 'string'),
    f(3, 'producerVersion', 'string'),
    f(4, 'domain', 'string'),
    f(5, 'modelVersion', 'int64'),
    f(6, 'docString', 'string'),
    f(7, 'graph', () => Graph),
    f(14, 'metadataProps', () => StringStringEntry, many),
    f(20, 'trainingInfo', () => TrainingInfo, many),
    f(25, 'functions', () => Function, many),
  ],
};
