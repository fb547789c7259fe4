// The pieces of scale-out that need no Redis: the result encoding, path mapping, the desktop setting,
// and recording a result that arrives twice.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRedisUrl, redactRedisUrl } from '../../src/backend/scale-out/redis.js';
import { readScaleOutSettings, SCALE_OUT_FILE } from '../../src/backend/scale-out/settings.js';
import { decodeResult, encodeResult } from '../../src/backend/scale-out/wire.js';
import { mapPath, parsePathMapping } from '../../src/backend/scale-out/worker-files.js';
import { fakeResult } from '../backend/fake-results.js';
import { createCollectionRun, seedCollection, tempStore } from '../backend/helpers.js';

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
      expect(await readScaleOutSettings(dir)).toBeNull();
      writeFileSync(join(dir, SCALE_OUT_FILE), '{"redisUrl": "redis://q:6379", "inFlight": 8}');
      expect(await readScaleOutSettings(dir)).toEqual({ redisUrl: 'redis://q:6379', inFlight: 8 });
      writeFileSync(join(dir, SCALE_OUT_FILE), '{"redisUrl": "http://q"}');
      await expect(readScaleOutSettings(dir)).rejects.toThrow(/scale-out\.json[\s\S]*redisUrl/);
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
