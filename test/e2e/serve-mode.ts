// What the end-to-end tests share: the renderer build that serve mode serves, `metatpt serve` as a
// child process, and the machine's Chromium.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RunInfo } from '../../src/shared/api.js';
import { createHttpClient, type HttpClient } from '../../src/shared/client-http.js';

const CHROMIUM = '/usr/bin/chromium';
export const repoRoot = join(import.meta.dirname, '../..');
/** Why the end-to-end tests cannot run here, or null. */
export const skipReason = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install chromium)`;

/** Newest modification time under a folder, in ms. */
function newestMtime(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(stats.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** Serve mode serves out/renderer: rebuild it when the renderer or the API contract changed since. */
export function ensureRendererBuild(): void {
  const built = join(repoRoot, 'out/renderer/index.html');
  const sources = Math.max(
    newestMtime(join(repoRoot, 'src/renderer')),
    newestMtime(join(repoRoot, 'src/shared')),
  );
  if (existsSync(built) && statSync(built).mtimeMs > sources) return;
  const build = spawnSync(join(repoRoot, 'node_modules/.bin/electron-vite'), ['build'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`electron-vite build failed:\n${build.stdout}\n${build.stderr}`);
}

/** Starts `metatpt serve` and resolves with the URL it prints. */
function startServe(database: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['bin/metatpt.mjs', 'serve', '--db', database, '--port', '0', '--device', 'cpu'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('http://')) resolve({ child, url: line.trim() });
    });
    child.once('exit', (code) =>
      reject(new Error(`metatpt serve exited with ${code} before printing its URL:\n${stderr}`)),
    );
  });
}

/** Ends a serve child (if it still runs) and waits for it. */
export async function stopServe(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The machine's Chromium, headless, without the sandbox a container lacks. */
function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** serve mode over a database, its API, and a Chromium page on it. */
export interface Workbench {
  serve: ChildProcess;
  api: HttpClient;
  browser: Browser;
  page: Page;
  /** Errors thrown in the page since it opened. */
  pageErrors: string[];
  /** Messages the page logged as errors since it opened (failed requests among them). */
  consoleErrors: string[];
}

/** Starts serve mode over the database and opens the workbench in a 1440×900 page. */
export async function openWorkbench(database: string, colorScheme: 'dark' | 'light'): Promise<Workbench> {
  const { child: serve, url } = await startServe(database);
  const { origin, searchParams } = new URL(url);
  const api = createHttpClient({ baseUrl: origin, token: searchParams.get('token')! });
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme });
  // No step has a time limit of its own; the test runner's limit applies.
  page.setDefaultTimeout(0);
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  await page.goto(url);
  return { serve, api, browser, page, pageErrors, consoleErrors };
}

/** Closes what openWorkbench opened (whatever part of it did open). */
export async function closeWorkbench(workbench: Partial<Workbench> | undefined): Promise<void> {
  await workbench?.browser?.close();
  workbench?.api?.close();
  await stopServe(workbench?.serve);
}

/** Where screenshots go: docs/screenshots with UPDATE_SCREENSHOTS=1, else `shots` in the workspace. */
export function screenshotFolder(workspace: string): string {
  const folder = process.env.UPDATE_SCREENSHOTS
    ? join(repoRoot, 'docs/screenshots')
    : join(workspace, 'shots');
  mkdirSync(folder, { recursive: true });
  return folder;
}

/** The first run of the collection that `match` accepts, once it is done (polled through the API). */
export async function waitForDoneRun(
  { api, page }: Pick<Workbench, 'api' | 'page'>,
  collectionId: number,
  match: (run: RunInfo) => boolean,
): Promise<RunInfo> {
  for (;;) {
    const run = (await api.call('runs.list', { collectionId })).find(match);
    if (run?.status === 'done') return run;
    await page.waitForTimeout(200);
  }
}
