/**
 * A drawing pad: white ink on black, like the digits the demo model learned from. Each stroke
 * segment reports the drawing averaged down to the input's size, so the prediction follows the pen.
 */
import { boxDownsample } from '../src/viewer-core/inputs.js';
import { canvasPoint, el } from './dom.js';

export const PAD_SIZE = 224;

export class DrawPad {
  readonly canvas = el('canvas', { class: 'draw-pad', width: PAD_SIZE, height: PAD_SIZE, 'aria-label': 'drawing pad' });
  readonly #ctx = this.canvas.getContext('2d', { willReadFrequently: true })!;
  #last: [number, number] | undefined;
  #frame = 0;

  /** `onDraw(rgba)` gets the drawing at outWidth x outHeight after each stroke segment (at most once a frame). */
  constructor(
    private outWidth: number,
    private outHeight: number,
    private readonly onDraw: (rgba: Uint8ClampedArray) => void,
  ) {
    this.clear();
    this.canvas.addEventListener('pointerdown', (e) => this.#start(e));
    this.canvas.addEventListener('pointermove', (e) => this.#move(e));
    for (const end of ['pointerup', 'pointercancel', 'pointerleave'])
      this.canvas.addEventListener(end, () => (this.#last = undefined));
  }

  resize(outWidth: number, outHeight: number): void {
    [this.outWidth, this.outHeight] = [outWidth, outHeight];
  }

  clear(): void {
    this.#ctx.fillStyle = '#000';
    this.#ctx.fillRect(0, 0, PAD_SIZE, PAD_SIZE);
  }

  /** The drawing at the input's size. */
  pixels(): Uint8ClampedArray {
    const { data } = this.#ctx.getImageData(0, 0, PAD_SIZE, PAD_SIZE);
    return boxDownsample(data, PAD_SIZE, PAD_SIZE, this.outWidth, this.outHeight);
  }

  #start(event: PointerEvent): void {
    this.canvas.setPointerCapture?.(event.pointerId);
    this.#last = canvasPoint(this.canvas, event);
    this.#stroke(this.#last);
  }

  #move(event: PointerEvent): void {
    if (!this.#last) return;
    this.#stroke(canvasPoint(this.canvas, event));
  }

  #stroke(to: [number, number]): void {
    const from = this.#last ?? to;
    const ctx = this.#ctx;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = PAD_SIZE / 9;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
    this.#last = to;
    if (!this.#frame) {
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0;
        this.onDraw(this.pixels());
      });
    }
  }
}
