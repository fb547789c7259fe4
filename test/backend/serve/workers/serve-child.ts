// Serve mode in a process of its own, for tests that need their own descriptor limit:
//   node --import tsx serve-child.ts DATA_DIR
// Prints {"port","token"} on stdout once listening; stops on SIGTERM.
import { createBackend } from '../../../../src/backend/app.js';
import { ENGINE_WORKER_SCRIPT } from '../../../../src/backend/engine-host/host.js';
import { startServer } from '../../../../src/backend/serve/server.js';

const [dataDir] = process.argv.slice(2);
const backend = await createBackend({
  dataDir,
  provider: 'cpu',
  workerScript: ENGINE_WORKER_SCRIPT,
  shell: 'browser',
  version: '0.0.0-test',
  log: () => {},
});
const server = await startServer({ backend, rendererDir: null });
process.stdout.write(`${JSON.stringify({ port: server.port, token: server.token })}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => backend.close());
});
