// One owner per run. A process that queues or executes a run holds its lease (instance, host, pid)
// and renews the heartbeat every few seconds; the desktop app, `serve` and the CLI may share one
// database, and without the lease each took over the others' runs (the run showed `failed`, images
// were processed twice). A lease is stale, and may be taken over, when its heartbeat is older than
// the stale age, or at once when its owner ran on this host and its process is gone.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RunLease } from '../store/runs.js';

/** This process's identity as a lease owner; one per executor. */
export function newLeaseOwner(): Omit<RunLease, 'heartbeatAt'> {
  return { instance: randomUUID(), host: hostname(), pid: process.pid };
}

/** Whether process `pid` exists on this host (EPERM: it exists but belongs to another user). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `lease` may be taken over at `now` (ms): heartbeat older than staleMs, or owner gone. */
export function isStale(lease: RunLease, now: number, staleMs: number): boolean {
  if (now - lease.heartbeatAt > staleMs) return true;
  return lease.host === hostname() && !processExists(lease.pid);
}

/** A run another live process holds: nothing was changed; the message says who holds it. */
export class RunOwnedError extends Error {
  constructor(
    readonly runId: number,
    readonly lease: RunLease,
    now = Date.now(),
  ) {
    const ago = Math.max(0, Math.round((now - lease.heartbeatAt) / 1000));
    super(
      `run ${runId} is being executed by process ${lease.pid} on ${lease.host} ` +
        `(last heartbeat ${ago} s ago); it was left to that process`,
    );
    this.name = 'RunOwnedError';
  }
}

/** A lease this process held was taken over (it was stalled past the stale age). */
export class LeaseLostError extends Error {
  constructor(readonly runId: number) {
    super(`run ${runId} was taken over by another process; this one stopped working on it`);
    this.name = 'LeaseLostError';
  }
}
