// The engine worker, made to abort (SIGABRT, as a native crash in an execution provider or an image
// codec would end it) when asked to classify a file named die.png; every other job goes to the real
// worker. The real worker is imported first, so its listener is in place before the init message.
import '../../../src/backend/engine-host/engine-worker.js';

process.on('message', (message: { type: string; data?: { path?: string } }) => {
  if (message.type === 'process' && message.data?.path?.endsWith('die.png')) process.abort();
});
