import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADAPT_DEFAULTS } from '../../../src/engine/adapt/adapt.js';
import { PromptSet } from '../../../src/engine/adapt/prompts.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { walkImageFiles } from '../../../src/backend/library/files.js';
import { Random } from '../../../src/engine/random.js';
import { Engine } from '../../../src/engine/runtime.js';
import {
  DEMO_COLLECTION_DIR,
  EMBEDDED_MODEL_DIR,
  readClassesFile,
} from '../../../tools/synthetic/embedded.js';
import { renderScene } from '../../../tools/synthetic/render.js';
import { balancedScenes, SHAPES } from '../../../tools/synthetic/scenes.js';
import { Classifier } from '../../../src/engine/adapt/classifier.js';

/** Images per class; scenes are drawn from a seed the training stream never uses. */
const PER_CLASS = 5;

describe('the shipped model', () => {
  it('loads as a CLIP folder and classifies clean generated shapes far above chance', async () => {
    const model = ClipModel.load(EMBEDDED_MODEL_DIR);
    expect(model.config.vision.imageSize).toBe(96);
    const engine = new Engine({ provider: 'cpu', log: () => {} });
    const classifier = new Classifier(await PromptSet.create(new ClipEncoder(model, engine), SHAPES));
    const scenes = balancedScenes(new Random(31_337), PER_CLASS);
    let correct = 0;
    for (const scene of scenes) {
      const image = await classifier.prepare(await renderScene(scene, { side: 192 }));
      const result = await classifier.run(image, { ...ADAPT_DEFAULTS, method: 'zeroshot' });
      if (SHAPES[result.label] === scene.shape) correct++;
    }
    // Chance is 1/16 ≈ 6 %; random weights of this architecture stay near it (8 % measured). The
    // shipped model scores 95 % on clean scenes (docs/embedded-model.md); 80 % leaves room for the
    // small differences between onnxruntime builds, not for a broken model.
    expect(correct / scenes.length).toBeGreaterThanOrEqual(0.8);
    await engine.dispose();
  });

  it('comes with a demo collection whose class set is the model’s classes', async () => {
    expect(readClassesFile(join(DEMO_COLLECTION_DIR, 'classes.txt'))).toEqual([...SHAPES]);
    let images = 0;
    for await (const _ of walkImageFiles(join(DEMO_COLLECTION_DIR, 'images'))) images++;
    expect(images).toBeGreaterThanOrEqual(200);
  });
});
