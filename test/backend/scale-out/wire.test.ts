// The pieces of scale-out that need no Redis: the result encoding, path mapping, the desktop setting,
// and recording a result that arrives twice.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readScaleOutSettings, scaleOutFile } from '../../../src/backend/scale-out/settings.js';
import { checkRedisUrl, redactRedisUrl } from '../../../src/shared/domain/scale-out.js';
import {
  decodeResult,
  encodeImageJob,
  encodeResult,
  imageJobDataSchema,
  WIRE_VERSION,
  type ImageJobData,
} from '../../../src/backend/scale-out/wire.js';
import { parseAdaptSettings } from '../../../src/shared/domain/adaptation.js';
import { mapPath, parsePathMapping } from '../../../src/backend/scale-out/worker-files.js';
import { fakeResult } from '../fake-results.js';
import { createCollectionRun, seedCollection, tempStore } from '../helpers.js';

const worker = { id: 'gpu-1:42', host: 'gpu-1', device: 'cuda' };

describe('scale-out wire format', () => {
  it('carries a result through JSON exactly', () => {
    const result = fakeResult(3, 4);
    const decoded = decodeResult(JSON.parse(JSON.stringify(encodeResult(result, worker))));
    expect(decoded.worker).toEqual(worker);
    expect(decoded.result.probs).toEqual(result.probs);
    expect(decoded.result.ctx).toEqual(result.ctx);
    expect(decoded.result.views!.map((v) => Array.from(v.theta))).toEqual(
      result.views!.map((v) => Array.from(Float32Array.from(v.theta))),
    );
    expect(decoded.result.label).toBe(result.label);
  });

  it('refuses a malformed result, naming the field', () => {
    const encoded = encodeResult(fakeResult(1), worker);
    expect(() => decodeResult({ ...encoded, result: { ...encoded.result, probs: 'not base64!' } })).toThrow(
      /malformed result[\s\S]*probs/,
    );
    expect(() => decodeResult({ result: encoded.result })).toThrow(/worker/);
  });
});

describe('scale-out image jobs', () => {
  it('carries a run with a learned Self-TPT prompt through JSON exactly', () => {
    const f = (...values: number[]) => new Float32Array(values);
    const job: ImageJobData = {
      v: WIRE_VERSION,
      spec: {
        runId: 3,
        settings: parseAdaptSettings({ method: 'zeroshot' }),
        model: { id: 1, name: 'tiny', dir: '/models/tiny' },
        classSet: {
          id: 2,
          name: 'shapes',
          template: 'a photo of a {}.',
          contextInit: 'a photo of a',
          classes: [{ name: 'circle', prompt: null }],
          learnedPrompt: {
            method: 'selftpt',
            ctx: f(0.1, -0.2, 1 / 3),
            classNames: ['circle'],
            selfTpt: {
              sourceCtx: f(0.5, 0.25, -1e-7),
              head: { w1: f(1, 2), b1: f(3), w2: f(4, 5), b2: f(6), sizes: [2, 1, 2] },
            },
            settings: { tau: 0.07 },
          },
        },
      },
      image: { imageId: 7, path: '/photos/a.png', seedKey: '/photos/a.png', contentHash: null },
    };
    const decoded = imageJobDataSchema.parse(JSON.parse(JSON.stringify(encodeImageJob(job))));
    expect(decoded).toEqual(job);
    expect(decoded.spec.classSet.learnedPrompt!.ctx).toBeInstanceOf(Float32Array);
  });
});

describe('scale-out paths and settings', () => {
  it('maps a path under the longest matching folder, at folder boundaries only', () => {
    const maps = [parsePathMapping('/data=/mnt/data'), parsePathMapping('/data/photos/=/photos')];
    expect(mapPath('/data/photos/a.png', maps)).toBe('/photos/a.png');
    expect(mapPath('/data/other/b.png', maps)).toBe('/mnt/data/other/b.png');
    expect(mapPath('/database/c.png', maps)).toBe('/database/c.png');
    expect(() => parsePathMapping('/only-one')).toThrow(/FROM=TO/);
  });

  it('checks Redis URLs without ever printing the password', () => {
    expect(checkRedisUrl('rediss://:pw@host:6380/2').protocol).toBe('rediss:');
    expect(() => checkRedisUrl('http://:pw@host')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => checkRedisUrl('http://:pw@host')).not.toThrow(/pw/);
    expect(redactRedisUrl('redis://user:pw@host:6379')).toBe('redis://***@host:6379');
  });

  it('reads the desktop setting, absent or invalid with the file named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metatpt-scale-'));
    try {
      const file = scaleOutFile(dir);
      expect(await readScaleOutSettings(file)).toBeNull();
      writeFileSync(file, '{"redisUrl": "redis://q:6379", "inFlight": 8}');
      expect(await readScaleOutSettings(file)).toEqual({ redisUrl: 'redis://q:6379', inFlight: 8 });
      writeFileSync(file, '{"redisUrl": "http://q"}');
      await expect(readScaleOutSettings(file)).rejects.toThrow(/scale-out\.json[\s\S]*redisUrl/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('recording a result that arrives twice', () => {
  it('writes it once; a failure after it changes nothing', () => {
    const store = tempStore();
    const seeded = seedCollection(store, 2);
    const run = createCollectionRun(store, seeded, 'tpt');
    const [imageId] = seeded.imageIds;
    expect(store.results.recordResultOnce(run.id, imageId, fakeResult(1))).toBe(true);
    expect(store.results.recordResultOnce(run.id, imageId, fakeResult(2))).toBe(false);
    expect(store.results.recordFailureOnce(run.id, imageId, 'late failure')).toBe(false);
    expect(store.runs.require(run.id)).toMatchObject({ done: 1, failed: 0 });
    expect(store.results.prediction(run.id, imageId)!.probs).toEqual(fakeResult(1).probs);
  });
});
