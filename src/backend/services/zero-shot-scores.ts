// Zero-shot scores of an image from its cached features and a class set's text features: the same
// arithmetic the engine does on the original image (adaptImage), without the vision tower.
import { entropies, softmax } from '../../engine/adapt/losses.js';
import { scaledSimilarities } from '../../engine/adapt/tpt.js';
import type { ZeroShotText } from '../jobs/types.js';
import type { ImageResult } from '../store/index.js';
import { maxWithIndex } from '../store/float32.js';

export function zeroShotResult(imageFeatures: Float32Array, text: ZeroShotText): ImageResult {
  if (imageFeatures.length !== text.width) {
    throw new Error(
      `cached image features have ${imageFeatures.length} values; the model's width is ${text.width}`,
    );
  }
  const logits = scaledSimilarities(imageFeatures, text.textFeatures, text.width, text.logitScale);
  const exactProbs = softmax(logits);
  const probs = Float32Array.from(exactProbs);
  const [entropy] = entropies(logits, 1);
  return {
    label: maxWithIndex(exactProbs).index,
    probs,
    zeroShotProbs: probs,
    entropy,
    zeroShotEntropy: entropy,
    adapted: false,
    timings: {},
  };
}
