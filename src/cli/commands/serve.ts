// `metatpt serve`: the workbench in a browser. Serves the renderer's browser build, the API and its
// events on one port, guarded by a token printed with the URL; runs until Ctrl-C or SIGTERM, then
// pauses what is running (it resumes at the next start) and exits.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { databasePath } from '../../backend/paths.js';
import { startServer } from '../../backend/serve/server.js';
import { parseDevice, parseNumber } from '../args.js';
import { defineCommand, UsageError } from '../command.js';
import { openCliBackend, RENDERER_BUILD_DIR } from '../backend.js';
import type { CommandIo } from '../format.js';

interface ServeOptions {
  db?: string;
  host: string;
  port?: string;
  device: string;
  json?: boolean;
}

function parsePort(value: string | undefined): number | undefined {
  const port = parseNumber(value, 'port');
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, not "${value}"`);
  }
  return port;
}

async function serve(values: ServeOptions, _args: string[], io: CommandIo): Promise<number> {
  const port = parsePort(values.port);
  const provider = parseDevice(values.device);
  const backend = await openCliBackend(databasePath(values.db), { provider });
  try {
    if (!existsSync(join(RENDERER_BUILD_DIR, 'index.html'))) {
      io.stderr(
        `metatpt: no browser build in ${RENDERER_BUILD_DIR} (run npm run build); serving the API only\n`,
      );
    }
    const server = await startServer({ backend, host: values.host, port, rendererDir: RENDERER_BUILD_DIR });
    const { url, host, token } = server;
    io.stdout(values.json ? `${JSON.stringify({ url, host, port: server.port, token })}\n` : `${url}\n`);
    if (values.host !== '127.0.0.1' && values.host !== 'localhost' && values.host !== '::1') {
      io.stderr(`metatpt: listening on ${values.host}: other machines can connect (with the token)\n`);
    }
    await new Promise<void>((resolve) => {
      io.interrupt?.addEventListener('abort', () => resolve(), { once: true });
      process.once('SIGTERM', () => resolve());
    });
    io.stderr('metatpt: stopping\n');
    await server.close();
    return 0;
  } finally {
    await backend.close();
  }
}

export const serveCommand = defineCommand<ServeOptions>({
  name: 'serve',
  summary: 'serve the workbench to a browser (localhost, token-protected)',
  define: (command) =>
    command
      .description(
        'Prints one line, http://HOST:PORT/?token=TOKEN: open it in a browser. Every request needs the token.',
      )
      .option(
        '--db <file>',
        "the workbench database (default: the desktop app's); thumbnails and installed models live in its folder",
      )
      .option('--host <h>', 'the address to listen on (127.0.0.1: this machine only)', '127.0.0.1')
      .option('--port <n>', 'the port (default: a free one)')
      .option('--device <d>', 'auto | cpu | cuda | dml | coreml', 'auto')
      .option('--json', 'print {"url","host","port","token"} instead of the URL'),
  run: serve,
});
