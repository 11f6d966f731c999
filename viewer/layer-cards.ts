/**
 * One card per captured value, drawn lazily: a card is painted only while it is on screen (or
 * about to be), and again after each run only if it is; the others wait until they scroll in.
 */
import { formatDims } from '../src/viewer-core/format.js';
import type { LayerData } from '../src/viewer-core/layer-data.js';
import { el } from './dom.js';
import { figureBlock, histogramBlock, statsRow } from './layer-render.js';

interface Card {
  readonly node: HTMLElement;
  layer: LayerData;
  dirty: boolean;
  visible: boolean;
}

export class LayerCards {
  readonly #cards = new Map<string, Card>();
  readonly #observer: IntersectionObserver;
  /** Called after each card is painted (the page measures its first render with it). */
  onPaint: (key: string) => void = () => undefined;

  constructor(
    private readonly container: HTMLElement,
    private readonly typeOf: (module: string | undefined) => string,
  ) {
    this.#observer = new IntersectionObserver((entries) => this.#seen(entries), { rootMargin: '400px 0px' });
  }

  /** Shows these layers, in order; cards of keys no longer present are removed. */
  update(layers: readonly LayerData[]): void {
    const keep = new Set(layers.map((l) => l.key));
    for (const [key, card] of this.#cards) {
      if (keep.has(key)) continue;
      this.#observer.unobserve(card.node);
      card.node.remove();
      this.#cards.delete(key);
    }
    layers.forEach((layer, i) => {
      const card = this.#cards.get(layer.key) ?? this.#create(layer);
      card.layer = layer;
      card.dirty = true;
      if (this.container.children[i] !== card.node)
        this.container.insertBefore(card.node, this.container.children[i] ?? null);
      if (card.visible) this.#paint(card);
    });
  }

  /** Scrolls to the first card of a module (or with this key) and marks it. */
  focus(name: string): boolean {
    const card = this.#cards.get(name) ?? [...this.#cards.values()].find((c) => c.layer.module === name);
    for (const c of this.#cards.values()) c.node.classList.toggle('selected', c === card);
    card?.node.scrollIntoView({ behavior: 'smooth', block: 'start' });
    return card !== undefined;
  }

  get painted(): number {
    return [...this.#cards.values()].filter((c) => !c.dirty).length;
  }

  #create(layer: LayerData): Card {
    const node = el('section', { class: 'card', 'data-key': layer.key, id: `layer-${encodeURIComponent(layer.key)}` });
    const card: Card = { node, layer, dirty: true, visible: false };
    this.#cards.set(layer.key, card);
    this.#observer.observe(node);
    return card;
  }

  #seen(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      const card = this.#cards.get((entry.target as HTMLElement).dataset.key ?? '');
      if (!card) continue;
      card.visible = entry.isIntersecting;
      if (card.visible && card.dirty) this.#paint(card);
    }
  }

  #paint(card: Card): void {
    const { layer } = card;
    const width = Math.max(240, this.container.clientWidth - 340);
    const header = el(
      'header',
      {},
      el('h3', {}, layer.key),
      el('span', { class: 'type' }, this.typeOf(layer.module)),
      el('span', { class: 'dims' }, formatDims(layer.dims)),
      el('span', { class: 'dtype' }, layer.dtype),
    );
    card.node.replaceChildren(
      header,
      statsRow(layer),
      el('div', { class: 'card-body' }, figureBlock(layer, width), histogramBlock(layer)),
    );
    card.dirty = false;
    this.onPaint(layer.key);
  }
}
