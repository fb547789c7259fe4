// The embedded model's held-out scenes, rendered and prepared the same way by every benchmark that
// measures accuracy on them (embedded-accuracy, adaptation-value, prompt-learning).
import type { PreparedImage } from '../../src/engine/adapt/adapt.js';
import { Classifier } from '../../src/engine/adapt/classifier.js';
import type { PromptSet } from '../../src/engine/adapt/prompts.js';
import { Random } from '../../src/engine/random.js';
import { renderScene, type RenderStyle } from '../../tools/synthetic/render.js';
import { balancedScenes, SHAPES } from '../../tools/synthetic/scenes.js';

/** The test split's scene stream; training draws from another (see scripts/train-embedded-model.ts). */
export const TEST_SCENES_SEED = 20_250_817;
/** The validation split's scene stream, disjoint from the test split's. */
export const VALIDATION_SCENES_SEED = 20_261_129;

export interface ShapeSample {
  style: RenderStyle;
  /** `style/index`: the same scene has the same index in every style. */
  key: string;
  /** Index of the scene's shape in SHAPES. */
  label: number;
  image: PreparedImage;
}

/**
 * `perClass` scenes of every shape from the stream `scenesSeed`, each rendered in every style of
 * `styles` (style by style) at twice the model's input size, so that views have detail. `inTurn`:
 * each scene in one style instead, the styles in turn (scene i in styles[i mod n]), in scene order —
 * labelled images that cover the styles without repeating a scene.
 */
export async function renderShapeSamples(
  prompts: PromptSet,
  scenesSeed: number,
  perClass: number,
  styles: readonly RenderStyle[],
  { inTurn = false }: { inTurn?: boolean } = {},
): Promise<ShapeSample[]> {
  const classifier = new Classifier(prompts);
  const scenes = balancedScenes(new Random(scenesSeed), perClass);
  const side = 2 * prompts.encoder.model.config.vision.imageSize;
  const renders = inTurn
    ? scenes.map((_, index) => ({ style: styles[index % styles.length], index }))
    : styles.flatMap((style) => scenes.map((_, index) => ({ style, index })));
  const samples: ShapeSample[] = [];
  for (const { style, index } of renders) {
    const scene = scenes[index];
    const decoded = await renderScene(scene, { side, style, noiseSeed: scenesSeed + index });
    samples.push({
      style,
      key: `${style}/${index}`,
      label: SHAPES.indexOf(scene.shape),
      image: await classifier.prepare(decoded),
    });
  }
  return samples;
}
