/**
 * A parameter handed to a child as an argument: torch.nn.utils.parametrize calls
 * `parametrizations.weight[0](original)`, so the child's nodes read its parent's parameter
 * `…parametrizations.weight.original`, and PyTorch's pre-hook sees it as `in:…weight.0#0`. Initializers
 * are never call inputs otherwise (a module's own weights are not its arguments), which shifted the
 * child's other inputs onto the wrong `#i`. Such a parameter takes its place among the call's inputs
 * (in read order) and is reported: neurotap returns activations, not weights.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo } from './module-map.js';
import { parameterOwner } from './parameter-renames.js';

export function markParameterArguments(index: GraphIndex, modules: Iterable<ModuleInfo>): void {
  for (const info of modules) {
    const isArgument = (v: string) => {
      const owner = index.initializers.has(v) ? parameterOwner(v) : undefined;
      return owner !== undefined && info.name.startsWith(`${owner}.`);
    };
    info.calls.forEach((call, i) => {
      const known = new Set(call.inputs);
      const inputs: string[] = [];
      for (const n of call.nodes)
        for (const v of index.reads[n]) if (!inputs.includes(v) && (known.has(v) || isArgument(v))) inputs.push(v);
      const added = inputs.filter((v) => !known.has(v));
      if (added.length === 0) return;
      const opaqueReasons = new Map(call.opaqueReasons);
      for (const v of added)
        opaqueReasons.set(
          v,
          `it receives the parameter '${v}' of '${parameterOwner(v)}' as an argument (a weight, not an activation): read it from the model's initializers`,
        );
      info.calls[i] = { ...call, inputs, opaqueInputs: [...call.opaqueInputs, ...added], opaqueReasons };
    });
  }
}
