/**
 * How complete a module map is, in words for `layers` and `extract`: how many modules each kind of
 * evidence gave, and a warning when a model names parameters but no module was found.
 */
import type { ModuleMap } from './module-map.js';

export interface ModuleEvidence {
  /** Modules with calls, named by the map's source (scoped names, exporter metadata, …). */
  readonly fromSource: number;
  /** Modules named by their parameters' path where the scope had dropped a container (ModuleDict). */
  readonly byParameterPath: number;
  /** Modules known to exist that left no node: numbered-sibling gaps, parameter owners without nodes. */
  readonly noTrace: number;
}

const SOURCE_WORDS: Record<ModuleMap['source'], string> = {
  'dynamo-metadata': 'dynamo exporter metadata',
  'torchscript-names': 'scoped node names',
  'parameter-names': 'parameter names',
  'node-names': 'node names (no module information in the export)',
  'neurotap-export': "neurotap_torch.export's markers",
};

/** `12 from scoped node names, 2 by parameter paths, 2 with no trace in the graph`. */
export function evidenceSummary(map: ModuleMap): string {
  const e = map.evidence;
  const parts = [`${e.fromSource} from ${SOURCE_WORDS[map.source]}`];
  if (e.byParameterPath) parts.push(`${e.byParameterPath} named by parameter paths`);
  if (e.noTrace) parts.push(`${e.noTrace} with no trace in the graph`);
  return parts.join(', ');
}

/**
 * A model whose parameters name modules none (or few) of which the graph shows as calls is not a
 * silent success: the export kept little module structure (nodes fused by an optimiser, modules
 * exported as functions, scopes stripped).
 */
export function completenessWarning(map: ModuleMap): string | undefined {
  const traced = map.evidence.fromSource + map.evidence.byParameterPath;
  const { noTrace } = map.evidence;
  if (noTrace === 0 || noTrace <= traced) return undefined;
  const found = traced === 0 ? 'no module call was found in the graph' : `only ${traced} module calls were found`;
  return `${found}, while ${noTrace} modules the model names (by parameters or numbered siblings) left no trace in it: the export kept little module structure (fused nodes, functions, stripped names); the "values" preset captures ONNX values by name`;
}
