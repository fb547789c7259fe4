// The engine worker: loads a CLIP model and a class set once (with its learned prompt, if the run
// uses one), then classifies images one at a time in its own process, learns a prompt, or adapts a
// Self-TPT prompt to the class set (stage 2).
import { adaptOptions } from '../../engine/adapt/adapt.js';
import { Classifier } from '../../engine/adapt/classifier.js';
import {
  adaptLearnedContext,
  flatLearnSettings,
  learnPrompt,
  resolveLearnSettings,
  usableAsLearned,
} from '../../engine/adapt/learn.js';
import { nearestTokens, PromptSet } from '../../engine/adapt/prompts.js';
import { normalizeRowsHost } from '../../engine/host-math.js';
import { ClipEncoder } from '../../engine/clip/encoder.js';
import { ClipModel } from '../../engine/clip/model.js';
import { Engine } from '../../engine/runtime.js';
import { serveWorker } from '../jobs/worker-protocol.js';
import type { EngineJob, EngineJobResult, EngineWorkerInit, LearnJob, LearnJobResult } from './protocol.js';
import type { LearnProgress, Stage2Progress } from '../../shared/domain/learned-prompts.js';

let classifier: Classifier | null = null;

serveWorker<EngineWorkerInit, EngineJob, EngineJobResult>({
  async init({ modelDir, classNames, prompts: perClass, template, contextInit, provider, learnedPrompt }) {
    const engine = new Engine({ provider, log: (line) => process.stderr.write(`${line}\n`) });
    const encoder = new ClipEncoder(ClipModel.load(modelDir), engine);
    const options = { template, prompts: perClass, contextInit };
    if (learnedPrompt && !usableAsLearned(learnedPrompt, classNames)) {
      throw new Error(
        'a Self-TPT prompt learned for other class names reached an engine worker unadapted: stage 2 runs as its own job',
      );
    }
    classifier = new Classifier(
      await PromptSet.create(encoder, classNames, { ...options, ctx: learnedPrompt?.ctx }),
    );
  },

  async process(job, signal, progress) {
    if (!classifier) throw new Error('engine worker used before init');
    const { prompts } = classifier;
    if (job.kind === 'learn') return learn(classifier, job, signal, progress);
    if (job.kind === 'stage2') {
      const { ctx, losses } = await adaptLearnedContext(prompts, job.learnedPrompt, {
        signal,
        onStep: (done, total) => progress({ done, total } satisfies Stage2Progress),
      });
      return { kind: job.kind, ctx, losses };
    }
    if (job.kind === 'zero-shot-text') {
      return {
        kind: job.kind,
        learnedFeatures: prompts.learnedContext ? prompts.contextFeatures : null,
        textFeatures: prompts.textFeatures,
        width: prompts.encoder.projectionDim,
        logitScale: prompts.encoder.model.logitScale,
      };
    }
    const { path, settings, seedKey } = job;
    const { result } = await classifier.classify(path, adaptOptions(settings), { signal, seedKey });
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
});

/** Encodes the items without cached features, then learns the prompt, reporting each step. */
async function learn(
  classifier: Classifier,
  job: LearnJob,
  signal: AbortSignal,
  report: (progress: LearnProgress) => void,
): Promise<LearnJobResult> {
  const { prompts } = classifier;
  const { encoder } = prompts;
  const width = encoder.projectionDim;
  const options = resolveLearnSettings(job.settings, width);
  const features = new Float32Array(job.items.length * width);
  const encoded: LearnJobResult['encoded'] = [];
  const missing = job.items.filter((item) => !item.features).length;
  for (const [index, item] of job.items.entries()) {
    if (item.features) {
      features.set(item.features, index * width);
      continue;
    }
    signal.throwIfAborted();
    const image = await classifier.prepare(item.path);
    const unit = normalizeRowsHost(await encoder.encodeImages(image.original, 1), width);
    features.set(unit, index * width);
    encoded.push({ item: index, features: unit });
    report({ phase: 'encode', done: encoded.length, total: missing });
  }
  const labels = Int32Array.from(job.items, (item) => item.label);
  const result = await learnPrompt(prompts, { features, labels }, job.method, options, {
    signal,
    onEpoch: (record, epochs) =>
      report({
        phase: 'train',
        done: record.epoch,
        total: epochs,
        trainAccuracy: record.trainAccuracy,
        validationAccuracy: record.validationAccuracy,
      }),
  });
  return {
    kind: 'learn',
    ctx: result.ctx,
    selfTpt: result.selfTpt,
    accuracy: result.accuracy,
    heldOut: result.fit.split.validation,
    history: result.fit.history.map((h) => ({ ...h })),
    bestEpoch: result.fit.bestEpoch,
    adaptLosses: result.adaptLosses,
    settings: flatLearnSettings(result.options),
    nearestTokens: nearestTokens(encoder, result.ctx, 3).map((near) => near.map((n) => n.token)),
    encoded,
  };
}
