// Trains the embedded CLIP model on the clean procedural domain, with CLIP's crop/flip/jitter
// augmentation, on the engine's own gradients, and writes it in Hugging Face layout. Seeded: the same
// seed and options give the same weights, also across a resume (every batch has its own seeded stream).
// Usage: npx tsx scripts/train-embedded-model.ts --out resources/models/shapes-clip-v2 [--seed 0]
//        [--steps 9000] [--shape-steps 4000] [--batch 32] [--lr 5e-4] [--warmup 200] [--cooldown 1500]
//        [--log-every 20] [--eval-every 500] [--checkpoint-every 250] [--pool-groups 400]
//        [--ramp-steps 1500] [--pool-min-difficulty 0] [--resume | --init-from MODEL_DIR]
// A checkpoint (weights in model layout + optimiser moments + log) is kept in <out>.checkpoint/ and is
// itself a loadable model folder; --resume continues from it, with --steps possibly changed (a
// shorter run anneals its learning rate from there). --init-from starts from another model folder's
// weights (fresh optimiser moments), resampling its position embedding when its input size differs.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { clipWeightShapes } from '../src/engine/clip/config.js';
import { ClipModel } from '../src/engine/clip/model.js';
import { Random, seedFrom } from '../src/engine/random.js';
import { Engine } from '../src/engine/runtime.js';
import { TRAINING_AUGMENTATION } from '../tools/synthetic/augment.js';
import {
  ContrastiveTrainer,
  EMBEDDED_DIMS,
  initClipModel,
  RENDER_SCALE,
  renderScenePool,
  resizePositionEmbedding,
  sampleTrainingBatch,
  writeClipModelFolder,
  zeroShotShapeAccuracy,
  type TrainerState,
} from '../tools/synthetic/train.js';
import { balancedScenes } from '../tools/synthetic/scenes.js';

const USAGE =
  'usage: train-embedded-model --out DIR [--seed N] [--steps N] [--batch N] [--lr X] [--weight-decay X] [--warmup N] [--cooldown N] [--shape-steps N] [--log-every N] [--eval-every N] [--checkpoint-every N] [--pool-groups N] [--ramp-steps N] [--pool-min-difficulty X] [--resume | --init-from MODEL_DIR]';
/** Every caption of the domain fits in this many tokens (checked on every batch). */
const TEXT_LENGTH = 16;
/** Batches whose loss is averaged for the reported final loss. */
const FINAL_LOSS_WINDOW = 20;
/** Clean validation scenes (per class) for the zero-shot accuracy printed while training. */
const VALIDATION_PER_CLASS = 5;
const VALIDATION_SEED = 777;
const TOKEN_EMBEDDING = 'text_model.embeddings.token_embedding.weight';
const VISION_POSITIONS = 'vision_model.embeddings.position_embedding.weight';

/** The log a checkpoint keeps next to the weights and moments. */
interface CheckpointLog {
  seed: number;
  steps: number;
  losses: number[];
  validation: { step: number; accuracy: number }[];
  /** Seconds spent training before this checkpoint, over every resumed segment. */
  seconds: number;
}

const MOMENTS_FILE = 'optimizer.bin';
const LOG_FILE = 'checkpoint.json';

/** Writes weights, optimiser moments and log to `dir` atomically (a new folder renamed over the old). */
function saveCheckpoint(dir: string, model: ClipModel, state: TrainerState, log: CheckpointLog): void {
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  writeClipModelFolder(partial, model, EMBEDDED_DIMS, { generator: 'checkpoint', step: String(state.steps) });
  const names = Object.keys(state.moments).sort();
  const parts = names.flatMap((name) => [state.moments[name].expAvg, state.moments[name].expAvgSq]);
  const bytes = Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
  writeFileSync(join(partial, MOMENTS_FILE), bytes);
  writeFileSync(join(partial, LOG_FILE), JSON.stringify({ ...log, moments: names }) + '\n');
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
}

/** Loads a checkpoint's weights into `model` and returns its optimiser state and log. */
function loadCheckpoint(dir: string, model: ClipModel): { state: TrainerState; log: CheckpointLog } {
  const saved = ClipModel.load(dir);
  const log = JSON.parse(readFileSync(join(dir, LOG_FILE), 'utf8')) as CheckpointLog & { moments: string[] };
  const bytes = readFileSync(join(dir, MOMENTS_FILE));
  const moments: TrainerState['moments'] = {};
  let offset = bytes.byteOffset;
  const take = (count: number) => {
    const array = new Float64Array(bytes.buffer.slice(offset, offset + count * 8));
    offset += count * 8;
    return array;
  };
  for (const name of clipWeightShapes(model.config).keys())
    model.weightData(name).set(saved.weightData(name));
  for (const name of log.moments) {
    const count = model.weightData(name).length;
    moments[name] = { expAvg: take(count), expAvgSq: take(count) };
  }
  if (offset !== bytes.byteOffset + bytes.length) throw new Error(`${dir}/${MOMENTS_FILE}: unexpected size`);
  return { state: { steps: log.steps, moments }, log };
}

/**
 * Copies every weight of the model folder `dir` into `model`; a vision position embedding of another
 * grid is resampled (resizePositionEmbedding). Throws if any other weight's shape differs.
 */
function initFromModel(dir: string, model: ClipModel): void {
  const source = ClipModel.load(dir);
  const grid = (m: ClipModel) => m.config.vision.imageSize / m.config.vision.patchSize;
  for (const name of clipWeightShapes(model.config).keys()) {
    let data = source.weightData(name);
    if (name === VISION_POSITIONS && grid(source) !== grid(model)) {
      data = resizePositionEmbedding(data, grid(source), grid(model), model.config.vision.hiddenSize);
    }
    const target = model.weightData(name);
    if (data.length !== target.length) throw new Error(`${dir}: ${name} has another shape than this model's`);
    target.set(data);
  }
}

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
      steps: { type: 'string', default: '9000' },
      batch: { type: 'string', default: '32' },
      lr: { type: 'string', default: '5e-4' },
      'weight-decay': { type: 'string', default: '0.1' },
      warmup: { type: 'string', default: '200' },
      cooldown: { type: 'string', default: '1500' },
      'shape-steps': { type: 'string', default: '4000' },
      'log-every': { type: 'string', default: '20' },
      'eval-every': { type: 'string', default: '500' },
      'checkpoint-every': { type: 'string', default: '250' },
      'pool-groups': { type: 'string', default: '400' },
      'ramp-steps': { type: 'string', default: '1500' },
      'pool-min-difficulty': { type: 'string', default: '0' },
      resume: { type: 'boolean', default: false },
      'init-from': { type: 'string' },
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
  const checkpointEvery = positiveNumber(values['checkpoint-every'], '--checkpoint-every');
  const poolGroups = positiveNumber(values['pool-groups'], '--pool-groups');
  // A curriculum over the scenes' nuisance and the augmentation's strength (sampleTrainingBatch).
  const rampSteps = positiveNumber(values['ramp-steps'], '--ramp-steps');
  const poolMinDifficulty = positiveNumber(values['pool-min-difficulty'], '--pool-min-difficulty');
  if (poolMinDifficulty >= 1) throw new Error('--pool-min-difficulty must be below 1');

  const checkpointDir = `${outDir}.checkpoint`;
  if (values.resume && values['init-from']) throw new Error('--resume and --init-from exclude each other');
  if (values.resume && !existsSync(join(checkpointDir, LOG_FILE)))
    throw new Error(`${checkpointDir}: no checkpoint to resume from`);
  // A curriculum: the first batches are captioned with the shape alone, so that the only thing to
  // learn is the shape, before colours and backgrounds (easier, and useless to classify shapes) compete.
  const shapeSteps = positiveNumber(values['shape-steps'], '--shape-steps');
  const options = {
    batchSize: positiveNumber(values.batch, '--batch'),
    textLength: TEXT_LENGTH,
    lr: positiveNumber(values.lr, '--lr'),
    weightDecay: positiveNumber(values['weight-decay'], '--weight-decay'),
    warmupSteps: positiveNumber(values.warmup, '--warmup'),
    cooldownSteps: positiveNumber(values.cooldown, '--cooldown'),
    totalSteps: steps,
    // Only the ~60 tokens of the domain's captions would ever be trained; the table's dense gradient
    // (3.2 M values) cost a third of every step. Random embeddings keep tokens apart just as well.
    frozen: [TOKEN_EMBEDDING],
  };

  const started = performance.now();
  const engine = new Engine({ provider: 'cpu' });
  const model = initClipModel(EMBEDDED_DIMS, seed);
  const trainer = await ContrastiveTrainer.create(model, engine, options);
  let losses: number[] = [];
  let validation: { step: number; accuracy: number }[] = [];
  let previousSeconds = 0;
  if (values.resume) {
    const { state, log } = loadCheckpoint(checkpointDir, model);
    if (log.seed !== seed) throw new Error(`${checkpointDir}: checkpoint has seed ${log.seed}, not ${seed}`);
    trainer.restoreOptimizerState(state);
    ({ losses, validation } = log);
    previousSeconds = log.seconds;
    console.log(`resumed at step ${state.steps} from ${checkpointDir}`);
  } else if (values['init-from']) {
    initFromModel(resolve(values['init-from']), model);
    console.log(`initialised from ${values['init-from']}`);
  }
  const elapsed = () => previousSeconds + (performance.now() - started) / 1000;
  const side = RENDER_SCALE * model.config.vision.imageSize;
  const pool = await renderScenePool(new Random(seedFrom(seed, 'pool')), poolGroups, side, poolMinDifficulty);
  console.log(`rendered ${poolGroups} groups of scenes at ${side} px in ${elapsed().toFixed(0)} s`);
  const validationScenes = balancedScenes(new Random(VALIDATION_SEED), VALIDATION_PER_CLASS);
  const validate = async (step: number) => {
    const accuracy = await zeroShotShapeAccuracy(model, engine, validationScenes);
    validation.push({ step, accuracy });
    console.log(
      `step ${step}: zero-shot shape accuracy on ${validationScenes.length} clean scenes ${(100 * accuracy).toFixed(0)} %`,
    );
  };
  for (let step = trainer.stepsTaken; step < steps; step++) {
    // Every batch has its own stream (scenes, captions, augmentation), independent of the model's
    // initialisation, so that a resumed run draws the same data as an uninterrupted one.
    const batch = await sampleTrainingBatch(
      model,
      pool,
      new Random(seedFrom(seed, `batch:${step}`)),
      options.batchSize,
      step < shapeSteps ? 'shape' : 'mixed',
      TRAINING_AUGMENTATION,
      Math.min(1, (step + 1) / Math.max(1, rampSteps)),
    );
    losses.push(await trainer.step(batch));
    if ((step + 1) % logEvery === 0 || step === steps - 1) {
      const recent = losses.slice(-logEvery);
      const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
      console.log(
        `step ${step + 1}/${steps} loss ${mean.toFixed(4)} logit_scale ${model.logitScale.toFixed(2)} ${elapsed().toFixed(0)} s`,
      );
    }
    if ((step + 1) % evalEvery === 0 && step !== steps - 1) await validate(step + 1);
    if ((step + 1) % checkpointEvery === 0 && step !== steps - 1) {
      const log = { seed, steps: step + 1, losses, validation, seconds: elapsed() };
      saveCheckpoint(checkpointDir, model, trainer.optimizerState(), log);
    }
  }
  await validate(steps);
  const window = losses.slice(-FINAL_LOSS_WINDOW);
  const finalLoss = window.reduce((a, b) => a + b, 0) / window.length;
  const seconds = elapsed();
  const record = {
    seed,
    ...options,
    dims: EMBEDDED_DIMS,
    finalLoss,
    shapeSteps,
    rampSteps,
    poolGroups,
    poolMinDifficulty,
    augmentation: TRAINING_AUGMENTATION,
    firstLoss: losses[0],
    validation,
    trainingSeconds: Math.round(seconds),
    machine: `${process.platform} ${process.arch}, node ${process.version}, onnxruntime cpu`,
    command: `npx tsx scripts/train-embedded-model.ts --out ${values.out} --seed ${seed} --steps ${steps} --batch ${options.batchSize} --lr ${options.lr} --weight-decay ${options.weightDecay} --warmup ${options.warmupSteps} --cooldown ${options.cooldownSteps} --shape-steps ${shapeSteps} --ramp-steps ${rampSteps} --pool-groups ${poolGroups} --pool-min-difficulty ${poolMinDifficulty}${values['init-from'] ? ` --init-from ${values['init-from']}` : ''}`,
    resumed: values.resume,
    initialisedFrom: values['init-from'] ?? null,
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
