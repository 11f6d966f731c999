/**
 * Where the input comes from: a bundled sample, the drawing pad (live), an uploaded image, an
 * .npy file, or random values; plus a preview of what the model receives and the Run button.
 */
import type { HostTensor } from '../src/web.js';
import { formatDims } from '../src/viewer-core/format.js';
import { imageLayout, type ImageLayout } from '../src/input-fit.js';
import { npyFeed, pixelsToTensor } from '../src/viewer-core/inputs.js';
import { layerData } from '../src/viewer-core/layer-data.js';
import { el } from './dom.js';
import { DrawPad } from './draw-pad.js';
import { imageInput, type ImagePreprocessing } from '../src/viewer-core/image-input.js';
import { imageFileRgb, tensorThumbnail } from './image-io.js';
import { figureBlock } from './layer-render.js';
import type { ModelInfo } from './protocol.js';

export type Feeds = Record<string, HostTensor>;

export interface Sample {
  readonly name: string;
  readonly label: number;
  readonly feeds: Feeds;
}

export interface InputEvents {
  /** A new input; `live` while drawing, so the page can skip work a stroke does not need. */
  input(feeds: Feeds, source: string, live: boolean): void;
  random(): void;
  run(): void;
  error(err: unknown): void;
}

export class InputPanel {
  #info: ModelInfo | undefined;
  #layout: ImageLayout | undefined;
  #pad: DrawPad | undefined;
  /** The image flags `neurotap view` was given (config.json), applied to uploaded images. */
  preprocessing: ImagePreprocessing = {};
  readonly #preview = el('div', { class: 'preview' });

  constructor(
    private readonly container: HTMLElement,
    private readonly events: InputEvents,
  ) {}

  setModel(info: ModelInfo, samples: readonly Sample[]): void {
    this.#info = info;
    this.#layout = info.inputs.length === 1 ? imageLayout(info.inputs[0]) : undefined;
    const declared = el(
      'p',
      { class: 'declared' },
      ...info.inputs.map((v) => el('code', {}, `${v.name}: ${v.dtype} ${formatDims(v.shape)}`)),
    );
    const drawing = this.#layout ? this.#drawArea(this.#layout) : undefined;
    this.container.replaceChildren(
      el('h2', {}, 'Input'),
      declared,
      this.#samplesRow(samples) ?? '',
      el('div', { class: 'input-row' }, drawing ?? '', this.#preview),
      this.#actions(),
    );
  }

  /** Shows what the model receives: the image for an image input, else shapes and ranges. */
  showFeeds(feeds: Feeds, source: string): void {
    const layout = this.#layout;
    const tensor = layout ? feeds[layout.input] : undefined;
    const picture = layout && tensor ? tensorThumbnail(tensor, layout, 112) : undefined;
    const lines = Object.entries(feeds).map(([name, t]) => el('code', {}, `${name} ${t.type} ${formatDims(t.dims)}`));
    const heatmaps = picture
      ? []
      : Object.entries(feeds)
          .map(([name, t]) => layerData(name, undefined, t))
          .filter((l) => l !== undefined)
          .map((l) => figureBlock(l, 320));
    this.#preview.replaceChildren(
      el('h3', {}, 'model input'),
      picture ?? '',
      ...heatmaps,
      ...lines,
      el('p', { class: 'caption source' }, source),
    );
  }

  /** A dropped input file: an .npy, or an image for an image input. */
  acceptFile(file: File): Promise<void> {
    if (/\.npy$/i.test(file.name)) return this.#npy(file);
    if (this.#layout && file.type.startsWith('image/')) return this.#image(file);
    return Promise.reject(
      new Error(
        `Drop an .onnx model, an .npy input${this.#layout ? ' or an image' : ''} on the page; got ${file.name}.`,
      ),
    );
  }

  #samplesRow(samples: readonly Sample[]): HTMLElement | undefined {
    if (samples.length === 0 || !this.#layout) return undefined;
    const buttons = samples.map((s) =>
      el(
        'button',
        {
          type: 'button',
          class: 'sample',
          'data-sample': s.name,
          title: `${s.name} (label ${s.label})`,
          onclick: () => this.events.input(s.feeds, `sample ${s.name}`, false),
        },
        tensorThumbnail(s.feeds[this.#layout!.input], this.#layout!, 32),
        el('span', {}, String(s.label)),
      ),
    );
    return el('div', { class: 'samples' }, el('span', { class: 'label' }, 'samples'), ...buttons);
  }

  #drawArea(layout: ImageLayout): HTMLElement {
    this.#pad = new DrawPad(layout.width, layout.height, (rgba) =>
      this.events.input({ [layout.input]: pixelsToTensor(rgba, layout) }, 'drawing', true),
    );
    const clear = el(
      'button',
      {
        type: 'button',
        id: 'clear-pad',
        onclick: () => {
          this.#pad!.clear();
          this.events.input({ [layout.input]: pixelsToTensor(this.#pad!.pixels(), layout) }, 'drawing', true);
        },
      },
      'Clear',
    );
    return el('div', { class: 'pad' }, el('h3', {}, 'draw'), this.#pad.canvas, clear);
  }

  #actions(): HTMLElement {
    const image = fileButton('Image…', 'image/*', 'image-file', (file) => this.#image(file), !this.#layout);
    const npy = fileButton('.npy…', '.npy', 'npy-file', (file) => this.#npy(file), false);
    const random = el('button', { type: 'button', id: 'random', onclick: () => this.events.random() }, 'Random');
    const run = el('button', { type: 'button', id: 'run', class: 'primary', onclick: () => this.events.run() }, 'Run');
    return el('div', { class: 'actions' }, image, npy, random, run);
  }

  async #image(file: File): Promise<void> {
    const layout = this.#layout!;
    try {
      const tensor = imageInput(await imageFileRgb(file), layout, this.preprocessing);
      this.events.input({ [layout.input]: tensor }, `image ${file.name}`, false);
    } catch (err) {
      this.events.error(err);
    }
  }

  async #npy(file: File): Promise<void> {
    const inputs = this.#info?.inputs ?? [];
    const stem = file.name.replace(/\.npy$/i, '');
    const input = inputs.find((v) => v.name === stem) ?? (inputs.length === 1 ? inputs[0] : undefined);
    try {
      if (!input)
        throw new Error(
          `The model has ${inputs.length} inputs; name the .npy file after one of them (${inputs.map((v) => v.name).join(', ')}).`,
        );
      this.events.input(
        { [input.name]: npyFeed(new Uint8Array(await file.arrayBuffer()), input) },
        `file ${file.name}`,
        false,
      );
    } catch (err) {
      this.events.error(err);
    }
  }
}

function fileButton(
  text: string,
  accept: string,
  id: string,
  onFile: (file: File) => void,
  disabled: boolean,
): HTMLElement {
  const input = el('input', { type: 'file', accept, id, hidden: true });
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) onFile(file);
  });
  const title = disabled ? 'The model input is not an image (float [N, 1|3, H, W] with fixed H, W).' : undefined;
  return el('label', { class: `button${disabled ? ' disabled' : ''}`, title }, text, disabled ? undefined : input);
}
