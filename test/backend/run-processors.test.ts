import sharp from 'sharp';
import { parseAdaptSettings, type AdaptMethod } from '../../src/shared/domain/adaptation.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENGINE_WORKER_SCRIPT,
  startEngineHost,
  type EngineHost,
} from '../../src/backend/engine-host/host.js';
import type { EngineWorkerInit } from '../../src/backend/engine-host/protocol.js';
import type { ImageTask, RunSpec } from '../../src/backend/jobs/types.js';
import { createRunProcessors } from '../../src/backend/run-processors.js';
import { CLASS_NAMES, GOLDEN_MODEL_DIR, makeWorkspace, type Workspace } from './app-fixtures.js';

let workspace: Workspace;
let task: ImageTask;

beforeAll(async () => {
  workspace = await makeWorkspace(0);
  const image = `${workspace.root}/one.png`;
  task = { imageId: 1, path: image, seedKey: image, contentHash: null };
  await sharp({ create: { width: 48, height: 40, channels: 3, background: '#a63' } })
    .png()
    .toFile(image);
});
afterAll(() => workspace.remove());

const settings = (method: AdaptMethod) => parseAdaptSettings({ method, views: 4 });

const spec = (method: AdaptMethod, classes: string[]): RunSpec => ({
  runId: 1,
  settings: settings(method),
  model: { id: 1, name: 'golden', dir: GOLDEN_MODEL_DIR },
  classSet: {
    id: 1,
    name: 'c',
    template: 'a photo of a {}.',
    contextInit: 'a photo of a',
    classes: classes.map((name) => ({ name, prompt: null })),
  },
});

/** Real engine hosts, with their starts and closes counted by class names. */
function countedHosts() {
  const started: string[][] = [];
  const closed: string[][] = [];
  const startHost = async (init: EngineWorkerInit, script: string | URL): Promise<EngineHost> => {
    started.push(init.classNames);
    const host = await startEngineHost(init, script);
    return {
      processImage: host.processImage,
      zeroShotText: host.zeroShotText,
      learn: host.learn,
      stage2: host.stage2,
      get device() {
        return host.device;
      },
      close: async () => {
        closed.push(init.classNames);
        await host.close();
      },
    };
  };
  const processors = createRunProcessors({ provider: 'cpu', workerScript: ENGINE_WORKER_SCRIPT, startHost });
  return { started, closed, processors };
}

describe('run processors', () => {
  it('reuse the engine host across runs with the same model and classes', async () => {
    const { started, closed, processors } = countedHosts();
    const signal = new AbortController().signal;
    const some = CLASS_NAMES.slice(0, 3);

    const zeroShot = await processors.open(spec('zeroshot', some));
    const first = await zeroShot.processImage(task, settings('zeroshot'), signal);
    expect(first.adapted).toBe(false);
    expect(zeroShot.device).toBe('cpu');
    await zeroShot.close();

    const tpt = await processors.open(spec('tpt', some));
    const second = await tpt.processImage(task, settings('tpt'), signal);
    expect(second.adapted).toBe(true);
    expect(second.ctx).toBeDefined();
    await tpt.close();
    expect(started).toEqual([some]);
    expect(closed).toEqual([]);

    const other = await processors.open(spec('zeroshot', CLASS_NAMES));
    expect(started).toEqual([some, CLASS_NAMES]);
    expect(closed).toEqual([some]);
    expect((await other.processImage(task, settings('zeroshot'), signal)).probs).toHaveLength(
      CLASS_NAMES.length,
    );
    await other.close();
    await processors.close();
    expect(closed).toEqual([some, CLASS_NAMES]);
  });

  it('give zero-shot text features from the kept host, or from a host of their own while a run holds it', async () => {
    const { started, closed, processors } = countedHosts();
    const signal = new AbortController().signal;
    const some = CLASS_NAMES.slice(0, 3);

    const run = await processors.open(spec('zeroshot', some));
    const image1 = await run.processImage(task, settings('zeroshot'), signal);
    const text = await processors.zeroShotText(spec('zeroshot', some));
    expect(started).toEqual([some]);
    expect(text.textFeatures).toHaveLength(some.length * text.width);
    // The features score the image exactly as the worker did.
    const logits = some.map((_, c) => {
      let dot = 0;
      for (let k = 0; k < text.width; k++)
        dot += image1.imageFeatures![k] * text.textFeatures[c * text.width + k];
      return text.logitScale * dot;
    });
    expect(logits.indexOf(Math.max(...logits))).toBe(image1.label);

    // Other classes while the run goes on: a host of their own, closed at once; the run's host stays.
    const other = await processors.zeroShotText(spec('zeroshot', CLASS_NAMES));
    expect(other.textFeatures).toHaveLength(CLASS_NAMES.length * other.width);
    expect(started).toEqual([some, CLASS_NAMES]);
    expect(closed).toEqual([CLASS_NAMES]);
    expect((await run.processImage(task, settings('zeroshot'), signal)).label).toBe(image1.label);
    await run.close();
    await processors.close();
    expect(closed).toEqual([CLASS_NAMES, some]);
  });
});
