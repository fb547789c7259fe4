import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../../../src/backend/jobs/worker-pool.js';
import type { ScalingInit, ScalingJob } from './workers/scaling-worker.js';

const script = new URL('./workers/scaling-worker.ts', import.meta.url);
type Output = { product: Float32Array; pid: number };

async function withPool(
  options: { size: number; init?: ScalingInit; cancelGraceMs?: number },
  body: (pool: WorkerPool<ScalingInit, ScalingJob, Output>) => Promise<void>,
) {
  const pool = new WorkerPool<ScalingInit, ScalingJob, Output>({
    script,
    init: options.init ?? { factor: 3 },
    size: options.size,
    cancelGraceMs: options.cancelGraceMs,
  });
  try {
    await body(pool);
  } finally {
    await pool.close();
  }
}

describe('WorkerPool', () => {
  it('initialises every worker and spreads jobs over them', async () => {
    await withPool({ size: 2 }, async (pool) => {
      await pool.ready();
      const outputs = await Promise.all([1, 2, 3, 4].map((value) => pool.run({ value, delayMs: 30 })));
      expect(outputs.map((o) => o.product[0])).toEqual([3, 6, 9, 12]);
      expect(new Set(outputs.map((o) => o.pid)).size).toBe(2);
    });
  });

  it('rejects a failing job with its message and keeps working', async () => {
    await withPool({ size: 1 }, async (pool) => {
      await expect(pool.run({ value: 5, action: 'throw' })).rejects.toThrow('cannot scale 5');
      expect((await pool.run({ value: 5 })).product[0]).toBe(15);
    });
  });

  it('cancels a running job and a queued one through their signals', async () => {
    await withPool({ size: 1 }, async (pool) => {
      const running = new AbortController();
      const queued = new AbortController();
      const first = pool.run({ value: 1, delayMs: 60_000 }, running.signal);
      const second = pool.run({ value: 2 }, queued.signal);
      queued.abort(new Error('not needed'));
      running.abort(new Error('stop now'));
      await expect(first).rejects.toThrow('stop now');
      await expect(second).rejects.toThrow('not needed');
      expect((await pool.run({ value: 4 })).product[0]).toBe(12);
    });
  });

  it('ends and replaces a worker that does not stop when cancelled', async () => {
    await withPool({ size: 1, cancelGraceMs: 50 }, async (pool) => {
      const controller = new AbortController();
      const stuck = pool.run({ value: 1, delayMs: 1500, action: 'ignore-cancel' }, controller.signal);
      setTimeout(() => controller.abort(new Error('give up')), 100);
      await expect(stuck).rejects.toThrow('give up');
      expect((await pool.run({ value: 2 })).product[0]).toBe(6);
    });
  });

  it('replaces a worker that crashes and fails only the job it was running', async () => {
    await withPool({ size: 1 }, async (pool) => {
      const before = (await pool.run({ value: 1 })).pid;
      await expect(pool.run({ value: 1, action: 'crash' })).rejects.toThrow(/exited with code 7/);
      const after = await pool.run({ value: 1 });
      expect(after.product[0]).toBe(3);
      expect(after.pid).not.toBe(before);
    });
  });

  it('survives a native abort in a worker: only that job fails, naming the signal', async () => {
    const reports: string[] = [];
    const pool = new WorkerPool<ScalingInit, ScalingJob, Output>({
      script,
      init: { factor: 2 },
      onWorkerDied: (report) => reports.push(report),
    });
    try {
      await expect(pool.run({ value: 1, action: 'abort' })).rejects.toThrow(/was killed by SIGABRT/);
      expect(reports).toEqual([expect.stringMatching(/was killed by SIGABRT; a fresh worker replaces it$/)]);
      expect((await pool.run({ value: 4 })).product[0]).toBe(8);
    } finally {
      await pool.close();
    }
  });

  it('refuses work when a worker cannot initialise', async () => {
    await withPool({ size: 2, init: { factor: 1, failInit: true } }, async (pool) => {
      await expect(pool.ready()).rejects.toThrow(/failed to initialise: no model here/);
      await expect(pool.run({ value: 1 })).rejects.toThrow(/no model here/);
    });
  });
});

describe('WorkerPool signals', () => {
  it('removes its abort listener from a shared signal when each job settles', async () => {
    await withPool({ size: 1 }, async (pool) => {
      const controller = new AbortController();
      let listeners = 0;
      const { addEventListener, removeEventListener } = controller.signal;
      controller.signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
        listeners++;
        addEventListener.apply(controller.signal, args);
      };
      controller.signal.removeEventListener = (...args: Parameters<AbortSignal['removeEventListener']>) => {
        listeners--;
        removeEventListener.apply(controller.signal, args);
      };
      for (const value of [1, 2, 3]) await pool.run({ value }, controller.signal);
      expect(listeners).toBe(0);
    });
  });
});
