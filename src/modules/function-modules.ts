/** What the local functions of an export (src/graph/inline-functions.ts) tell about the module map. */
import type { InlinedFunctions } from '../graph/inline-functions.js';
import type { ModuleMap } from './module-map.js';

/**
 * A module exported as a local function: the function's domain and name are its class. A module
 * the evidence cannot tell from the call's module (same parameters) is not observable.
 */
export function applyFunctionEvidence(
  map: ModuleMap,
  functions: Pick<InlinedFunctions, 'classes' | 'ambiguous'>,
): void {
  const short = (qualified: string) => qualified.split('.').pop() ?? qualified;
  for (const [name, qualified] of functions.classes) {
    const info = map.get(name);
    if (info) Object.assign(info, { type: short(qualified), typeSource: 'export' });
  }
  for (const [name, qualified] of functions.ambiguous) {
    const info = map.get(name);
    if (!info) continue;
    info.notObservable = {
      reason: `ambiguous: a local function call of class ${short(qualified)} holds exactly its parameters and is given to its parent, so which of the call's nodes are its own cannot be told`,
      hint: 'Export without export_modules_as_functions (scoped node names), or capture its children and the values preset.',
    };
  }
}
