import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENGINE_WORKER_SCRIPT,
  startEngineHost,
  type EngineHost,
} from '../../src/backend/engine-host/host.js';
import type { EngineWorkerInit } from '../../src/backend/engine-host/protocol.js';
import type { RunSpec } from '../../src/backend/jobs/types.js';
import { createRunProcessors } from '../../src/backend/run-processors.js';
import { CLASS_NAMES, GOLDEN_MODEL_DIR, makeWorkspace, type Workspace } from './fixtures.js';

let workspace: Workspace;
let image: string;

beforeAll(async () => {
  workspace = await makeWorkspace(0);
  image = `${workspace.root}/one.png`;
  await sharp({ create: { width: 48, height: 40, channels: 3, background: '#a63' } })
    .png()
    .toFile(image);
});
afterAll(() => workspace.remove());

const spec = (method: RunSpec['method'], classes: string[]): RunSpec => ({
  runId: 1,
  method,
  params: { views: 4 },
  model: { id: 1, name: 'golden', dir: GOLDEN_MODEL_DIR },
  classSet: {
    id: 1,
    name: 'c',
    template: 'a photo of a {}.',
    contextInit: 'a photo of a',
    classes: classes.map((name) => ({ name, prompt: null })),
  },
});

describe('run processors', () => {
  it('reuse the engine host across runs with the same model and classes, and apply the run method', async () => {
    const started: string[][] = [];
    const closed: string[][] = [];
    // The real engine host, with its starts and closes counted.
    const startHost = async (init: EngineWorkerInit, script: string | URL): Promise<EngineHost> => {
      started.push(init.classNames);
      const host = await startEngineHost(init, script);
      return {
        processImage: host.processImage,
        get device() {
          return host.device;
        },
        close: async () => {
          closed.push(init.classNames);
          await host.close();
        },
      };
    };
    const processors = createRunProcessors({
      provider: 'cpu',
      workerScript: ENGINE_WORKER_SCRIPT,
      startHost,
    });
    const signal = new AbortController().signal;
    const some = CLASS_NAMES.slice(0, 3);

    const zeroShot = await processors.open(spec('zeroshot', some));
    const first = await zeroShot.processImage(image, { views: 4 }, signal);
    expect(first.adapted).toBe(false);
    expect(zeroShot.device).toBe('cpu');
    await zeroShot.close();

    // Stored settings saying otherwise do not change the run's method.
    const tpt = await processors.open(spec('tpt', some));
    const second = await tpt.processImage(image, { views: 4, method: 'zeroshot' }, signal);
    expect(second.adapted).toBe(true);
    expect(second.ctx).toBeDefined();
    await tpt.close();
    expect(started).toEqual([some]);
    expect(closed).toEqual([]);

    const other = await processors.open(spec('zeroshot', CLASS_NAMES));
    expect(started).toEqual([some, CLASS_NAMES]);
    expect(closed).toEqual([some]);
    expect((await other.processImage(image, {}, signal)).probs).toHaveLength(CLASS_NAMES.length);
    await other.close();
    await processors.close();
    expect(closed).toEqual([some, CLASS_NAMES]);
  });
});
