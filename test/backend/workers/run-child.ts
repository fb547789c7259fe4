// A separate process that executes the queued runs of a database with a slow test processor, for the
// crash-safety and concurrent-review tests:  node --import tsx run-child.ts DB LOG DELAY_MS
import { appendFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../../src/backend/store/index.js';
import { RunExecutor } from '../../../src/backend/jobs/executor.js';
import { fakeResult } from '../fake-results.js';

const [dbPath, logPath, delayMs] = process.argv.slice(2);
const store = openStore(dbPath);
const executor = new RunExecutor({
  store,
  concurrency: 2,
  openProcessor: async () => ({
    device: 'test-cpu',
    close: async () => {},
    async processImage(path, _params, signal) {
      await sleep(Number(delayMs), undefined, { signal });
      // Logged when processing ends, before the result is committed: a kill can fall in between.
      appendFileSync(logPath, `${basename(path)}\n`);
      return fakeResult(basename(path).length);
    },
  }),
});
executor.resumeInterruptedRuns();
await executor.idle();
store.close();
