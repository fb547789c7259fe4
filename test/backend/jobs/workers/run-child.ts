// A separate process that executes the queued runs of a database with a slow test processor, for the
// crash-safety, concurrent-review and lease tests:  node --import tsx run-child.ts DB LOG DELAY_MS [GATE]
// While the file GATE exists, images wait before they start (the test holds the run in progress).
import { appendFileSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../../../src/backend/store/index.js';
import { RunExecutor } from '../../../../src/backend/jobs/executor.js';
import { fakeResult, namedPath } from '../../fake-results.js';

const [dbPath, logPath, delayMs, gate] = process.argv.slice(2);
const store = openStore(dbPath);
const executor = new RunExecutor({
  resolveImage: namedPath,
  store,
  concurrency: 2,
  openProcessor: async () => ({
    device: 'test-cpu',
    close: async () => {},
    async processImage({ path }, _params, signal) {
      while (gate && existsSync(gate)) await sleep(5, undefined, { signal });
      await sleep(Number(delayMs), undefined, { signal });
      // Logged when processing ends, before the result is committed: a kill can fall in between.
      appendFileSync(logPath, `${basename(path)}\n`);
      return fakeResult(basename(path).length);
    },
  }),
});
// The runs this process took (others may be held by a live process): one JSON line on stdout.
process.stdout.write(`${JSON.stringify({ took: executor.resumeInterruptedRuns() })}\n`);
await executor.idle();
store.close();
