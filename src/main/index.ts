// The Electron main process: a thin shell around the backend. It starts the backend in a utility
// process (backend-process.ts) on the app's data folder, relays the renderer's API calls to it over
// IPC and a message port, forwards the backend's events, serves collection images on workbench://,
// shows the folder dialog the backend asks for, and owns the window and its menu. When the backend's
// process dies it says so and starts a fresh one. One instance per user: a second start focuses the
// first window (two would execute the same runs on one database).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  screen,
  session,
  utilityProcess,
  type IpcMainInvokeEvent,
  type UtilityProcess,
} from 'electron';
import { errorPayload } from '../backend/api/dispatch.js';
import { APP_NAME } from '../backend/paths.js';
import { connectBackendRelay, type RelayBackendOptions, type RemoteBackend } from '../backend/relay.js';
import { ApiError, type ApiResponse, type AppCommand } from '../shared/api.js';
import { IPC_CHANNELS, IMAGE_PROTOCOL } from '../shared/ipc.js';
import { handleImageProtocol, registerImageScheme } from './image-protocol.js';
import { buildAppMenu } from './menu.js';
import { isOnScreen, loadWindowState, rememberWindowState } from './window-state.js';

// The dev server's URL, in development only: a packaged app never loads its page from elsewhere.
const devServerUrl = app.isPackaged ? undefined : process.env['ELECTRON_RENDERER_URL'];
const rendererIndex = join(import.meta.dirname, '../renderer/index.html');

/** The page may load only its own files and images from the image protocol. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  `img-src 'self' data: blob: ${IMAGE_PROTOCOL}:`,
  // The dev server's hot reload talks over its own WebSocket.
  `connect-src 'self'${devServerUrl ? ` ${devServerUrl.replace(/^http/, 'ws')}` : ''}`,
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

// Same data folder as the headless commands compute (src/backend/paths.ts), whatever the package name.
app.setName(APP_NAME);
app.setPath('userData', join(app.getPath('appData'), APP_NAME));
registerImageScheme();

let mainWindow: BrowserWindow | null = null;

function createMainWindow(): BrowserWindow {
  const stateFile = join(app.getPath('userData'), 'window-state.json');
  const saved = loadWindowState(stateFile);
  const placement =
    saved &&
    isOnScreen(
      saved,
      screen.getAllDisplays().map((display) => display.workArea),
    )
      ? { x: saved.x, y: saved.y, width: saved.width, height: saved.height }
      : { width: saved?.width ?? 1400, height: saved?.height ?? 900 };
  const window = new BrowserWindow({
    ...placement,
    minWidth: 800,
    minHeight: 560,
    show: false,
    title: APP_NAME,
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  });
  if (saved?.maximized) window.maximize();
  rememberWindowState(window, stateFile);
  window.once('ready-to-show', () => window.show());

  // The window shows the app and nothing else: no navigation away, no new windows.
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));

  if (devServerUrl) void window.loadURL(devServerUrl);
  else void window.loadFile(rendererIndex);
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  return window;
}

/** Whether a frame shows our own page (the bundled file, or the dev server in development). */
function isOwnPage(url: string): boolean {
  if (devServerUrl) return new URL(url).origin === new URL(devServerUrl).origin;
  return url.split(/[?#]/)[0] === pathToFileURL(rendererIndex).href;
}

/**
 * Only our own page may call the API: the main frame of our window, showing our page. Checked by
 * frame, not by webContents, so that a subframe (an iframe the page never meant to load) cannot.
 */
function fromOwnWindow(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  return (
    mainWindow !== null &&
    frame !== null &&
    frame === mainWindow.webContents.mainFrame &&
    isOwnPage(frame.url)
  );
}

/** Sends a backend event (or a menu command) to the window. */
function toWindow(event: string, payload: unknown): void {
  mainWindow?.webContents.send(IPC_CHANNELS.event, event, payload);
}

function connectIpc(backend: () => Promise<RemoteBackend>): void {
  ipcMain.handle(IPC_CHANNELS.call, async (event, method: unknown, input: unknown): Promise<ApiResponse> => {
    if (!fromOwnWindow(event)) return { ok: false, error: { message: 'not allowed', code: 'failed' } };
    try {
      return { ok: true, result: (await (await backend()).dispatch(String(method), input)) ?? null };
    } catch (error) {
      return { ok: false, error: errorPayload(error) };
    }
  });
}

/** better-sqlite3 built for Electron's ABI by scripts/build-electron-sqlite.mjs, when it exists. */
function electronSqliteBinding(): string | undefined {
  const binding = join(app.getAppPath(), 'build', 'electron-native', 'better_sqlite3.node');
  return existsSync(binding) ? binding : undefined;
}

async function pickFolder(title?: string): Promise<string | null> {
  const options = { title: title ?? 'Choose a folder', properties: ['openDirectory' as const] };
  const chosen = mainWindow
    ? await dialog.showOpenDialog(mainWindow, options)
    : await dialog.showOpenDialog(options);
  return chosen.canceled ? null : (chosen.filePaths[0] ?? null);
}

/** Restarts after which a dying backend is left dead: something is wrong beyond one crash. */
const MAX_RESTARTS = 3;

/**
 * The backend's utility process, started now and again whenever it dies unexpectedly (the window
 * is told; calls in flight fail with the reason). `current()` resolves with the running backend.
 */
function superviseBackend(options: RelayBackendOptions) {
  let quitting = false;
  let restarts = 0;
  let child: UtilityProcess | null = null;
  const start = (): Promise<RemoteBackend> => {
    const forked = utilityProcess.fork(join(import.meta.dirname, 'backend.js'), [], {
      serviceName: `${APP_NAME} backend`,
      stdio: 'inherit',
    });
    child = forked;
    const remote = connectBackendRelay(
      {
        postMessage: (message) => forked.postMessage(message),
        onMessage: (listener) => forked.on('message', listener),
      },
      options,
      pickFolder,
    );
    forked.once('exit', (code) => {
      const error = new ApiError(`the backend stopped unexpectedly (exit code ${code})`, 'failed');
      void remote.then((backend) => backend.disconnected(error));
      if (quitting) return;
      restarts += 1;
      const restarting = restarts <= MAX_RESTARTS;
      dialog.showErrorBox(
        APP_NAME,
        `${error.message}. ${restarting ? 'It is restarting; runs in progress resume.' : 'Restart the app.'}`,
      );
      if (restarting) current = start();
    });
    void remote.then((backend) => backend.subscribe(toWindow));
    return remote;
  };
  let current = start();
  return {
    current: () => current,
    /** Closes the backend (its runs stay queued and resume at the next start) and ends its process. */
    async close(): Promise<void> {
      quitting = true;
      try {
        await (await current).close();
      } finally {
        child?.kill();
      }
    },
  };
}

async function start(): Promise<ReturnType<typeof superviseBackend>> {
  await app.whenReady();
  // The workbench needs no camera, microphone, location, notifications or the like.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  session.defaultSession.webRequest.onHeadersReceived((details, callback) =>
    callback({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] },
    }),
  );
  const backend = superviseBackend({
    dataDir: app.getPath('userData'),
    resourcesDir: app.isPackaged ? process.resourcesPath : join(app.getAppPath(), 'resources'),
    provider: 'auto',
    // Bundled next to this file by electron.vite.config.ts.
    workerScript: join(import.meta.dirname, 'engine-worker.js'),
    nativeBinding: electronSqliteBinding(),
    shell: 'electron',
    version: app.getVersion(),
    pickFolder: true,
  });
  await backend.current();
  handleImageProtocol({
    imageFile: async (imageId, kind) => (await backend.current()).imageFile(imageId, kind),
  });
  connectIpc(backend.current);
  const send = (command: AppCommand) => toWindow('app.command', { command });
  Menu.setApplicationMenu(buildAppMenu({ developer: !app.isPackaged, send }));
  mainWindow = createMainWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createMainWindow();
  });
  return backend;
}

/** Resolves with the backend once started; never, in a second instance (it exits at once). */
function startFirstInstance(): ReturnType<typeof start> {
  if (!app.requestSingleInstanceLock()) {
    app.exit(0); // without before-quit: there is no backend to close
    return new Promise(() => {});
  }
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  const starting = start();
  starting.catch((error: unknown) => {
    dialog.showErrorBox(APP_NAME, `The workbench could not start:\n${String(error)}`);
    app.exit(1);
  });
  return starting;
}

const started = startFirstInstance();

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

// Runs are paused (and resume at the next start) and the database is closed before the app exits.
let closed = false;
app.on('before-quit', (event) => {
  if (closed) return;
  event.preventDefault();
  void started
    .then((backend) => backend.close())
    .catch((error: unknown) => process.stderr.write(`closing the backend: ${String(error)}\n`))
    .finally(() => {
      closed = true;
      app.quit();
    });
});
