/** A few DOM helpers: the viewer is plain TypeScript, no framework. */

type Child = Node | string | null | undefined | false;

/** `el('div', { class: 'card' }, child, 'text')`: attributes set as attributes, `on*` functions as listeners. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith('on') && typeof value === 'function')
      node.addEventListener(name.slice(2), value as EventListener);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`The page has no #${id}.`);
  return node as T;
}

/** A canvas sized in device pixels for a picture of width x height (drawn 1:1, shown at CSS size). */
export function sizedCanvas(width: number, height: number, className: string): HTMLCanvasElement {
  const canvas = el('canvas', { class: className, width, height });
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  return canvas;
}

/** Canvas coordinates of a mouse event, in the canvas's own pixels. */
export function canvasPoint(canvas: HTMLCanvasElement, event: MouseEvent): [number, number] {
  const box = canvas.getBoundingClientRect();
  return [
    Math.floor(((event.clientX - box.left) * canvas.width) / box.width),
    Math.floor(((event.clientY - box.top) * canvas.height) / box.height),
  ];
}
