// The entry of the backend's utility process (bundled as out/main/backend.js): the backend created by
// createBackend, as in serve mode, and served to the main process over the parent port. A slow query,
// a scan or a native crash in an execution provider stays out of the process that owns the window.
import { createBackend } from '../backend/app.js';
import { serveBackendRelay, type RelayMessage } from '../backend/relay.js';
import { readScaleOutSettings, scaleOutFile } from '../backend/scale-out/settings.js';

const parent = process.parentPort;
serveBackendRelay(
  {
    postMessage: (message) => parent.postMessage(message),
    onMessage: (listener) => parent.on('message', (event) => listener(event.data as RelayMessage)),
  },
  // Runs go to `metatpt worker` processes through the user's Redis when the data folder's
  // scale-out.json says so (read at every start of this process; saved from the settings card).
  async (options) => {
    const file = scaleOutFile(options.dataDir);
    return createBackend({ ...options, scaleOut: await readScaleOutSettings(file), scaleOutFile: file });
  },
);
