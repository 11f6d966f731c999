/** The one floating tooltip that shows exact values under the mouse. */
import { canvasPoint, el } from './dom.js';

let tip: HTMLDivElement | undefined;

function tooltip(): HTMLDivElement {
  if (!tip) {
    tip = el('div', { class: 'tooltip', role: 'status' });
    document.body.append(tip);
  }
  return tip;
}

export function showTip(text: string, event: MouseEvent): void {
  const node = tooltip();
  node.textContent = text;
  node.style.display = 'block';
  const x = Math.min(event.clientX + 14, window.innerWidth - node.offsetWidth - 8);
  node.style.left = `${x}px`;
  node.style.top = `${event.clientY + 14}px`;
}

export function hideTip(): void {
  if (tip) tip.style.display = 'none';
}

/** Shows `describe(x, y)` over the canvas while the mouse moves on it; nothing where it returns undefined. */
export function hoverCanvas(canvas: HTMLCanvasElement, describe: (x: number, y: number) => string | undefined): void {
  canvas.addEventListener('mousemove', (event) => {
    const text = describe(...canvasPoint(canvas, event));
    if (text === undefined) hideTip();
    else showTip(text, event);
  });
  canvas.addEventListener('mouseleave', hideTip);
}
