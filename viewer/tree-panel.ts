/**
 * The module tree, as PyTorch's named_modules() lists it: type, number of calls, the shapes seen in
 * the last run (declared ones before), and why a module cannot be observed. A checkbox per module
 * chooses which layers get a card; clicking a name scrolls to its card. Modules come in call order.
 */
import type { ModuleSummary } from '../src/web.js';
import { formatDims } from '../src/viewer-core/format.js';
import { treeRows } from '../src/viewer-core/module-tree.js';
import { el } from './dom.js';

export interface TreeEvents {
  toggle(name: string, checked: boolean): void;
  select(name: string): void;
}

function declaredShapes(m: ModuleSummary): string {
  const shapes = m.outputShapes.map((call) => call.map((s) => (s ? formatDims(s) : '?')).join(', '));
  const text = [...new Set(shapes)].join(' | ');
  return /^[?, |]*$/.test(text) ? '' : text; // unknown until the first run fills it in
}

export class ModuleTree {
  readonly #rows = new Map<string, HTMLElement>();

  constructor(
    private readonly container: HTMLElement,
    private readonly events: TreeEvents,
  ) {}

  show(modules: readonly ModuleSummary[], checked: ReadonlySet<string>, source: string): void {
    this.#rows.clear();
    const rows = treeRows(modules).map(({ module, depth }) => this.#row(module, depth, checked.has(module.name)));
    const hidden = modules.filter((m) => m.notObservable).length;
    const summary = `${modules.length} modules · ${modules.filter((m) => m.leaf).length} leaves · ${hidden} not observable · names from ${source}`;
    this.container.replaceChildren(el('p', { class: 'tree-summary' }, summary), el('ul', { class: 'tree' }, ...rows));
  }

  /** Shows the shapes of the last run next to each module (the declared ones are often unknown). */
  setShapes(shapes: ReadonlyMap<string, number[][]>): void {
    for (const [name, row] of this.#rows) {
      const seen = shapes.get(name);
      if (seen) row.querySelector('.shape')!.textContent = seen.map((d) => formatDims(d)).join(', ');
    }
  }

  highlight(name: string | undefined): void {
    for (const [n, row] of this.#rows) row.classList.toggle('selected', n === name);
  }

  #row(m: ModuleSummary, depth: number, checked: boolean): HTMLElement {
    const box = el('input', {
      type: 'checkbox',
      checked,
      disabled: Boolean(m.notObservable),
      title: 'Show this module as a card',
      'aria-label': `show ${m.name}`,
    });
    box.addEventListener('change', () => this.events.toggle(m.name, box.checked));
    const why = m.notObservable;
    const reason = why
      ? el('span', { class: 'reason', title: `${why.reason}\n${why.hint}` }, `not observable: ${why.reason}`)
      : undefined;
    const row = el(
      'li',
      {
        class: `module${m.notObservable ? ' unobservable' : ''}${m.leaf ? ' leaf' : ''}`,
        style: `--depth: ${depth}`,
        'data-module': m.name,
      },
      box,
      el('button', { class: 'name', type: 'button', onclick: () => this.events.select(m.name) }, m.name),
      el('span', { class: 'type' }, m.type),
      m.calls > 1 ? el('span', { class: 'calls', title: 'calls per forward pass' }, `×${m.calls}`) : undefined,
      el('span', { class: 'shape' }, declaredShapes(m)),
      reason,
    );
    this.#rows.set(m.name, row);
    return row;
  }
}
