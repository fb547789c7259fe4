// The engine worker: loads a CLIP model and a class set once, then classifies images one at a time
// off the main thread.
import { adaptImage, adaptOptions, imageSeed, prepareImage } from '../../engine/adapt/adapt.js';
import { nearestTokens, PromptSet } from '../../engine/adapt/prompts.js';
import { ClipEncoder } from '../../engine/clip/encoder.js';
import { ClipModel } from '../../engine/clip/model.js';
import { Engine } from '../../engine/runtime.js';
import { serveWorker } from '../jobs/worker-protocol.js';
import type { EngineJob, EngineJobResult, EngineWorkerInit } from './protocol.js';

let prompts: PromptSet | null = null;

serveWorker<EngineWorkerInit, EngineJob, EngineJobResult>({
  async init({ modelDir, classNames, prompts: perClass, template, contextInit, provider }) {
    const engine = new Engine({ provider, log: (line) => process.stderr.write(`${line}\n`) });
    const encoder = new ClipEncoder(ClipModel.load(modelDir), engine);
    prompts = await PromptSet.create(encoder, classNames, { template, prompts: perClass, contextInit });
  },

  async process(job, signal) {
    if (!prompts) throw new Error('engine worker used before init');
    if (job.kind === 'zero-shot-text') {
      return {
        kind: job.kind,
        textFeatures: prompts.textFeatures,
        width: prompts.encoder.projectionDim,
        logitScale: prompts.encoder.model.logitScale,
      };
    }
    const { path, settings, seedKey } = job;
    const options = adaptOptions(settings);
    const image = await prepareImage(path, prompts);
    signal.throwIfAborted();
    const result = await adaptImage(
      prompts,
      image,
      { ...options, seed: imageSeed(options.seed, seedKey) },
      signal,
    );
    const width = prompts.encoder.model.config.text.hiddenSize;
    return {
      kind: job.kind,
      label: result.label,
      probs: Float32Array.from(result.probs),
      zeroShotProbs: Float32Array.from(result.zeroShotProbs),
      entropy: result.entropy,
      zeroShotEntropy: result.zeroShotEntropy,
      adapted: result.adapted,
      imageFeatures: result.imageFeatures,
      ...(result.ctx && {
        ctx: { shape: [result.ctx.length / width, width], data: result.ctx },
        nearestTokens: nearestTokens(prompts.encoder, result.ctx, 3).map((near) => near.map((n) => n.token)),
      }),
      ...(result.views && { views: result.views }),
      losses: result.losses,
      timings: result.timings,
      device: prompts.encoder.engine.executionProvider,
    };
  },

  // The text features stay cached in the worker (they are copied); an image's arrays are moved.
  transferList: (output) =>
    output.kind === 'image'
      ? [
          output.probs.buffer as ArrayBuffer,
          output.zeroShotProbs.buffer as ArrayBuffer,
          output.imageFeatures!.buffer as ArrayBuffer,
        ]
      : [],
});
