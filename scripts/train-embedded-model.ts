// Trains the embedded CLIP model on the clean procedural domain with the engine's own gradients and
// writes it in Hugging Face layout. Seeded: the same seed and options give the same weights.
// Usage: npx tsx scripts/train-embedded-model.ts --out resources/models/shapes-clip-v1 [--seed 0]
//        [--steps 6000] [--shape-steps 3000] [--batch 32] [--lr 3e-4] [--log-every 20] [--eval-every 500]
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Random } from '../src/engine/random.js';
import { Engine } from '../src/engine/runtime.js';
import {
  ContrastiveTrainer,
  EMBEDDED_DIMS,
  initClipModel,
  sampleTrainingBatch,
  writeClipModelFolder,
  zeroShotShapeAccuracy,
} from '../src/engine/synthetic/train.js';
import { balancedScenes } from '../src/engine/synthetic/scenes.js';

const USAGE =
  'usage: train-embedded-model --out DIR [--seed N] [--steps N] [--batch N] [--lr X] [--weight-decay X] [--warmup N] [--shape-steps N] [--log-every N] [--eval-every N]';
/** Every caption of the domain fits in this many tokens (checked on every batch). */
const TEXT_LENGTH = 16;
/** Batches whose loss is averaged for the reported final loss. */
const FINAL_LOSS_WINDOW = 20;
/** Clean validation scenes (per class) for the zero-shot accuracy printed while training. */
const VALIDATION_PER_CLASS = 5;
const VALIDATION_SEED = 777;

function positiveNumber(text: string | undefined, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${flag} must be a non-negative number, got "${text}"`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      seed: { type: 'string', default: '0' },
      steps: { type: 'string', default: '6000' },
      batch: { type: 'string', default: '32' },
      lr: { type: 'string', default: '3e-4' },
      'weight-decay': { type: 'string', default: '0.1' },
      warmup: { type: 'string', default: '50' },
      'shape-steps': { type: 'string', default: '3000' },
      'log-every': { type: 'string', default: '20' },
      'eval-every': { type: 'string', default: '500' },
    },
  });
  if (!values.out) {
    console.error(USAGE);
    return 2;
  }
  const outDir = resolve(values.out);
  if (existsSync(outDir) && readdirSync(outDir).length > 0) {
    throw new Error(`${outDir}: folder is not empty; refusing to overwrite`);
  }
  const seed = positiveNumber(values.seed, '--seed');
  const steps = positiveNumber(values.steps, '--steps');
  const logEvery = positiveNumber(values['log-every'], '--log-every');
  const evalEvery = positiveNumber(values['eval-every'], '--eval-every');
  // A curriculum: the first batches are captioned with the shape alone, so that the only thing to
  // learn is the shape, before colours and backgrounds (easier, and useless to classify shapes) compete.
  const shapeSteps = positiveNumber(values['shape-steps'], '--shape-steps');
  const options = {
    batchSize: positiveNumber(values.batch, '--batch'),
    textLength: TEXT_LENGTH,
    lr: positiveNumber(values.lr, '--lr'),
    weightDecay: positiveNumber(values['weight-decay'], '--weight-decay'),
    warmupSteps: positiveNumber(values.warmup, '--warmup'),
    totalSteps: steps,
  };

  const started = performance.now();
  const engine = new Engine({ provider: 'cpu' });
  const model = initClipModel(EMBEDDED_DIMS, seed);
  const trainer = await ContrastiveTrainer.create(model, engine, options);
  // Scenes come from their own stream so that model initialisation and data order are independent.
  const data = new Random(seed + 1_000_003);
  const losses: number[] = [];
  const validationScenes = balancedScenes(new Random(VALIDATION_SEED), VALIDATION_PER_CLASS);
  const validation: { step: number; accuracy: number }[] = [];
  const validate = async (step: number) => {
    const accuracy = await zeroShotShapeAccuracy(model, engine, validationScenes);
    validation.push({ step, accuracy });
    console.log(
      `step ${step}: zero-shot shape accuracy on ${validationScenes.length} clean scenes ${(100 * accuracy).toFixed(0)} %`,
    );
  };
  for (let step = 0; step < steps; step++) {
    const batch = await sampleTrainingBatch(
      model,
      data,
      options.batchSize,
      step < shapeSteps ? 'shape' : 'mixed',
    );
    losses.push(await trainer.step(batch));
    if ((step + 1) % logEvery === 0 || step === steps - 1) {
      const recent = losses.slice(-logEvery);
      const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
      const elapsed = (performance.now() - started) / 1000;
      console.log(
        `step ${step + 1}/${steps} loss ${mean.toFixed(4)} logit_scale ${model.logitScale.toFixed(2)} ${elapsed.toFixed(0)} s`,
      );
    }
    if ((step + 1) % evalEvery === 0 && step !== steps - 1) await validate(step + 1);
  }
  await validate(steps);
  const window = losses.slice(-FINAL_LOSS_WINDOW);
  const finalLoss = window.reduce((a, b) => a + b, 0) / window.length;
  const seconds = (performance.now() - started) / 1000;
  const record = {
    seed,
    ...options,
    dims: EMBEDDED_DIMS,
    finalLoss,
    shapeSteps,
    firstLoss: losses[0],
    validation,
    trainingSeconds: Math.round(seconds),
    machine: `${process.platform} ${process.arch}, node ${process.version}, onnxruntime cpu`,
    command: `npx tsx scripts/train-embedded-model.ts --out ${values.out} --seed ${seed} --steps ${steps} --batch ${options.batchSize} --lr ${options.lr} --weight-decay ${options.weightDecay} --warmup ${options.warmupSteps} --shape-steps ${shapeSteps}`,
  };
  writeClipModelFolder(outDir, model, EMBEDDED_DIMS, {
    generator: 'metatpt scripts/train-embedded-model.ts',
    seed: String(seed),
    steps: String(steps),
    final_loss: finalLoss.toFixed(4),
  });
  writeFileSync(join(outDir, 'training.json'), JSON.stringify({ ...record, losses }, null, 2) + '\n');
  console.log(
    `trained ${steps} steps in ${seconds.toFixed(0)} s, final loss ${finalLoss.toFixed(4)} (mean of the last ${window.length}); wrote ${outDir}`,
  );
  await engine.dispose();
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
  },
);
