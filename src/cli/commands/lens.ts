/**
 * `neurotap lens MODEL --input ...`: the logit lens. The model's final norm and LM head run on
 * every hidden state, and the top tokens of each layer and position are printed, as strings when
 * a tokenizer.json sits beside the model (or --tokenizer names one).
 */
import type { ArgsDef } from 'citty';
import type { PlainTensor } from '../../tensor.js';
import { flagCommand, isSet, lastValue, parseInteger, type ScannedFlags } from '../argv.js';
import { executionProvidersOf, FLAGS, layerSpecsOf, threadsOf } from '../flags.js';
import { stylesFor } from '../format.js';
import { lensJson, lensText, textInput } from '../lens-view.js';
import { openModel } from '../model-info.js';
import { buildFeeds } from './extract.js';

const args = {
  model: FLAGS.model,
  input: FLAGS.input,
  random: FLAGS.random,
  seed: FLAGS.seed,
  dim: FLAGS.dim,
  layers: {
    ...FLAGS.layers,
    description: 'The hidden states to read, as for extract (default: the hidden_states preset)',
  },
  top: { type: 'string', valueHint: 'K', description: 'Tokens per layer and position (default 5)' },
  tokenizer: {
    type: 'string',
    valueHint: 'FILE',
    description: 'A Hugging Face tokenizer.json for token strings (default: the one beside the model, if any)',
  },
  json: { type: 'boolean', description: 'Print one JSON object instead of the table' },
  threads: FLAGS.threads,
  ep: FLAGS.ep,
} satisfies ArgsDef;

export default flagCommand(
  {
    name: 'lens',
    description: "Logit lens: the model's final norm and LM head on every hidden state, top tokens per layer",
  },
  args,
  'Inputs go after --input: neurotap lens MODEL --input ids.npy, or --random.',
  async (model, flags) => lens(model!, flags),
);

async function lens(modelPath: string, flags: ScannedFlags): Promise<void> {
  const json = isSet(flags, 'json');
  const top = parseInteger(lastValue(flags, 'top') ?? '5', 'top', 1, 1000);
  const { loadTokenizer, tokenizerBeside } = await import('../../node/tokenizer.js');
  const tokenizer = lastValue(flags, 'tokenizer') ?? tokenizerBeside(modelPath);
  const vocab = tokenizer === undefined ? undefined : await loadTokenizer(tokenizer);
  const model = await openModel(modelPath, threadsOf(flags), executionProvidersOf(flags));
  try {
    model.lensHead(); // a model without a final norm + LM head fails before any input is read
    const layers = flags.values.has('layers') ? layerSpecsOf(flags, 'leaves') : undefined;
    const feeds = await buildFeeds(model, flags, json, 'lens');
    const result = await model.lens(feeds as Record<string, PlainTensor>, {
      top,
      ...(layers ? { layers } : {}),
      ...(vocab ? { vocab } : {}),
    });
    const view = {
      model: modelPath,
      result,
      top,
      tokenizer: tokenizer ?? null,
      input: textInput(feeds, result),
      vocab,
    };
    process.stdout.write(`${json ? lensJson(view) : lensText(view, stylesFor(process.stdout)).join('\n')}\n`);
  } finally {
    await model.release();
  }
}
