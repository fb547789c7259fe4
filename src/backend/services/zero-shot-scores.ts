// Scores of an image from its cached features and a class set's text features: the same arithmetic
// the engine does on the original image (adaptImage), without the vision tower. With a learned prompt
// loaded (coop, selftpt) the prediction is the learned prompt's and zero-shot stays the hand-written one.
import type { ZeroShotText } from '../jobs/types.js';
import type { ImageResult } from '../store/index.js';
import { argmax, entropy, scaledSimilarities, softmax } from '../../engine/host-math.js';

export function scoresFromFeatures(imageFeatures: Float32Array, text: ZeroShotText): ImageResult {
  if (imageFeatures.length !== text.width) {
    throw new Error(
      `cached image features have ${imageFeatures.length} values; the model's width is ${text.width}`,
    );
  }
  const score = (textFeatures: Float32Array) => {
    const logits = scaledSimilarities(imageFeatures, textFeatures, text.width, text.logitScale);
    const exact = softmax(logits);
    return {
      label: argmax(exact),
      probs: Float32Array.from(exact),
      entropy: entropy(exact),
    };
  };
  const zeroShot = score(text.textFeatures);
  const final = text.learnedFeatures ? score(text.learnedFeatures) : zeroShot;
  return {
    label: final.label,
    probs: final.probs,
    zeroShotProbs: zeroShot.probs,
    entropy: final.entropy,
    zeroShotEntropy: zeroShot.entropy,
    adapted: Boolean(text.learnedFeatures),
    timings: {},
  };
}
