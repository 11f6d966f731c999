/** The parsed model the capture machinery works on (parse-model.ts builds it; NeurotapModel holds it). */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleMap } from '../modules/module-map.js';
import type { ModelProto } from '../onnx/types.js';
import type { ModelSource, Runtime } from '../runtime/runtime.js';
import type { LoadOptions } from '../runtime/session-options.js';

/** Internals of NeurotapModel, never public. */
export interface ModelParts {
  /** The graph mapped and captured (local functions inlined, recurrent states assembled). */
  readonly proto: ModelProto;
  readonly index: GraphIndex;
  readonly moduleMap: ModuleMap;
  /** The model's own bytes, which plain runs load. */
  readonly bytes: Uint8Array;
  readonly runtime: Runtime;
  readonly options: LoadOptions;
  readonly source: ModelSource;
}
