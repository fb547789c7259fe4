import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaptOptions } from '../../../src/engine/adapt/adapt.js';
import { parseAdaptSettings } from '../../../src/shared/domain/adaptation.js';
import { PromptSet } from '../../../src/engine/adapt/prompts.js';
import { ClipEncoder } from '../../../src/engine/clip/encoder.js';
import { ClipModel } from '../../../src/engine/clip/model.js';
import { Engine } from '../../../src/engine/runtime.js';
import {
  ENGINE_WORKER_SCRIPT,
  startEngineHost,
  type EngineHost,
} from '../../../src/backend/engine-host/host.js';
import { GOLDEN_MODEL_DIR, goldenIndex } from '../../fixtures/golden/load.js';
import { Classifier } from '../../../src/engine/adapt/classifier.js';

const classNames = goldenIndex.class_names.slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), 'engine-host-'));
const imagePath = join(dir, 'scene.png');
let host: EngineHost;

beforeAll(async () => {
  const svg =
    '<svg width="64" height="48"><rect width="64" height="48" fill="#3a6"/><circle cx="20" cy="24" r="12" fill="#fd2"/></svg>';
  await sharp(Buffer.from(svg)).png().toFile(imagePath);
  writeFileSync(join(dir, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1]));
  host = await startEngineHost(
    { modelDir: GOLDEN_MODEL_DIR, classNames, provider: 'cpu' },
    ENGINE_WORKER_SCRIPT,
  );
});

afterAll(() => host.close());

const zeroShot = parseAdaptSettings({ method: 'zeroshot' });

describe('engine host (worker thread)', () => {
  it('gives the same result as adapting in-process', async () => {
    const settings = parseAdaptSettings({ method: 'metatpt', views: 8, innerSteps: 1, seed: 4 });
    const fromWorker = await host.processImage(imagePath, settings, new AbortController().signal);

    const encoder = new ClipEncoder(
      ClipModel.load(GOLDEN_MODEL_DIR),
      new Engine({ provider: 'cpu', log: () => {} }),
    );
    const classifier = new Classifier(await PromptSet.create(encoder, classNames));
    const { result: local } = await classifier.classify(imagePath, adaptOptions(settings));

    expect(fromWorker.label).toBe(local.label);
    expect([...fromWorker.probs]).toEqual([...Float32Array.from(local.probs)]);
    expect(fromWorker.views).toHaveLength(8);
    expect(fromWorker.nearestTokens).toHaveLength(4);
    expect(host.device).toBe('cpu');
  });

  it('reports a corrupt image as an error naming the file and keeps working', async () => {
    await expect(
      host.processImage(join(dir, 'broken.jpg'), zeroShot, new AbortController().signal),
    ).rejects.toThrow('broken.jpg');
    const ok = await host.processImage(imagePath, zeroShot, new AbortController().signal);
    expect(ok.adapted).toBe(false);
  });

  it('cancels a running image', async () => {
    const controller = new AbortController();
    const running = host.processImage(
      imagePath,
      parseAdaptSettings({ method: 'metatpt', views: 32, innerSteps: 3 }),
      controller.signal,
    );
    setTimeout(() => controller.abort(new Error('cancelled by test')), 20);
    await expect(running).rejects.toThrow();
    const after = await host.processImage(imagePath, zeroShot, new AbortController().signal);
    expect(after.probs).toHaveLength(8);
  });
});

describe('an engine worker that dies', () => {
  it('fails its image with the reason, is reported, and a fresh worker takes the next image', async () => {
    const reports: string[] = [];
    const dying = await startEngineHost(
      { modelDir: GOLDEN_MODEL_DIR, classNames, provider: 'cpu' },
      new URL('./dying-worker.ts', import.meta.url),
      { onWorkerDied: (report) => reports.push(report) },
    );
    try {
      const signal = new AbortController().signal;
      await expect(dying.processImage(join(dir, 'die.png'), zeroShot, signal)).rejects.toThrow(
        /was killed by SIGABRT/,
      );
      expect(reports).toEqual([expect.stringMatching(/was killed by SIGABRT; a fresh worker replaces it$/)]);
      const next = await dying.processImage(imagePath, zeroShot, signal);
      expect(next.probs).toHaveLength(8);
    } finally {
      await dying.close();
    }
  });
});
