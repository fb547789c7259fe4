// A small real worker for the WorkerPool tests: multiplies numbers after a delay, and can fail,
// hang, exit, or abort (as a native crash would) on request.
import { setTimeout as sleep } from 'node:timers/promises';
import { serveWorker } from '../../../../src/backend/jobs/worker-protocol.js';

export interface ScalingInit {
  factor: number;
  failInit?: boolean;
}

export interface ScalingJob {
  value: number;
  delayMs?: number;
  action?: 'throw' | 'crash' | 'abort' | 'ignore-cancel';
}

let factor = 0;

serveWorker<ScalingInit, ScalingJob, { product: Float32Array; pid: number }>({
  init(data) {
    if (data.failInit) throw new Error('no model here');
    factor = data.factor;
  },
  async process(job, signal) {
    if (job.action === 'crash') process.exit(7);
    if (job.action === 'abort') process.abort();
    if (job.action === 'throw') throw new Error(`cannot scale ${job.value}`);
    if (job.action === 'ignore-cancel') {
      const until = Date.now() + (job.delayMs ?? 0);
      while (Date.now() < until) {
        // Busy: never yields, so never sees the cancel message.
      }
    } else {
      await sleep(job.delayMs ?? 0, undefined, { signal });
    }
    return { product: new Float32Array([job.value * factor]), pid: process.pid };
  },
});
