/**
 * From bytes to the parts a NeurotapModel works on: the decoded graph (local functions inlined,
 * recurrent states assembled, merged-decoder branches named apart), its index, and the module map.
 */
import { NeurotapError } from './errors.js';
import { uniqueBranchValues } from './graph/branch-names.js';
import { checkStructure } from './graph/check-structure.js';
import { indexGraph } from './graph/graph-index.js';
import { inlineLocalFunctions } from './graph/inline-functions.js';
import { scansAsLoops } from './graph/scan-as-loop.js';
import type { ModelParts } from './capture/model-parts.js';
import { applyFunctionEvidence } from './modules/function-modules.js';
import { buildModuleMap } from './modules/module-map.js';
import { assembleRecurrentStates } from './modules/recurrent-states.js';
import { gapsNamedByParameters } from './modules/untraced.js';
import { decodeModel } from './onnx/codec.js';
import type { ModelSource, Runtime } from './runtime/runtime.js';
import { checkThreads, type LoadOptions } from './runtime/session-options.js';

/** Parses and checks the bytes (nothing reaches the native runtime). */
export function parseModel(bytes: Uint8Array, runtime: Runtime, options: LoadOptions, source: ModelSource): ModelParts {
  checkThreads(options.threads);
  const original = decodeModel(bytes);
  if (!original.graph?.node?.length || original.irVersion === undefined) {
    throw new NeurotapError(
      'E_NOT_ONNX',
      `The data is not an ONNX model (no ${original.graph ? 'nodes' : 'graph'} in ${bytes.length} bytes).`,
      {
        hint: 'Pass a file written by torch.onnx.export (or another ONNX exporter).',
      },
    );
  }
  // Values inside local functions cannot be returned: mapping and capture use the inlined graph
  // (plain runs still use the original bytes).
  const inlined = inlineLocalFunctions(original);
  // Stacked recurrent modules' h_n / c_n, which the export leaves per layer, are assembled the same way.
  // So is a Scan whose body holds an If, as the equivalent Loop (branch values need its sequences).
  const mapped = scansAsLoops(inlined?.model ?? original) ?? inlined?.model ?? original;
  // Both branches of a merged decoder name their values alike: indexed apart (branch-names.ts).
  uniqueBranchValues(mapped.graph!);
  const proto = assembleRecurrentStates(mapped) ?? mapped;
  const index = indexGraph(proto.graph!);
  checkStructure(index);
  // Numbered containers' gaps (a child without parameters or nodes) are listed by the map itself (untraced.ts).
  const moduleMap = buildModuleMap(index, proto.metadataProps);
  if (inlined) {
    applyFunctionEvidence(moduleMap, inlined);
    gapsNamedByParameters(moduleMap.modules);
  }
  return { proto, index, moduleMap, bytes, runtime, options, source };
}
