// The engine worker, made to die (exit code 9, as a native crash in an execution provider would end
// it) when asked to classify a file named die.png; every other job goes to the real worker. The real
// worker is imported first, so its listener is in place before the init message arrives.
import '../../../src/backend/engine-host/engine-worker.js';
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', (message: { type: string; data?: { path?: string } }) => {
  if (message.type === 'process' && message.data?.path?.endsWith('die.png')) process.exit(9);
});
