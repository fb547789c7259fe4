// Peak resident memory. Two views: the largest process.memoryUsage().rss sampled on a timer (works
// everywhere, can miss short spikes while the event loop is blocked) and the kernel's own high-water
// mark VmHWM from /proc/self/status (Linux), which can be reset between cases through clear_refs.
import { readFileSync, writeFileSync } from 'node:fs';

const MIB = 1024 * 1024;

function readStatusKiB(field: string): number | null {
  try {
    const match = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return match ? Number(match[1]) : null;
  } catch {
    return null; // not Linux
  }
}

export interface PeakMemory {
  /** Largest sampled RSS, MiB. */
  sampledMiB: number;
  /** VmHWM since the last reset, MiB; null where /proc is not available. */
  highWaterMiB: number | null;
}

export class MemoryMonitor {
  private peakRss = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 25) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage().rss);
  }

  /**
   * Starts a new measurement window: the sampled peak restarts at the current RSS and, where the
   * kernel allows, VmHWM is reset to the current RSS (writing 5 to clear_refs).
   */
  reset(): void {
    this.peakRss = 0;
    this.sample();
    try {
      writeFileSync('/proc/self/clear_refs', '5');
    } catch {
      // Not Linux, or not permitted: VmHWM then stays the peak since the process started.
    }
  }

  peak(): PeakMemory {
    this.sample();
    const hwm = readStatusKiB('VmHWM');
    return { sampledMiB: this.peakRss / MIB, highWaterMiB: hwm === null ? null : hwm / 1024 };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
