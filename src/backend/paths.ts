// Where the app keeps its data, computed the way Electron computes app.getPath('userData') for this
// app's name, so the headless commands find the desktop app's database without Electron.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const APP_NAME = 'MetaTPT Workbench';
export const DATABASE_FILE = 'workbench.db';

type Env = Record<string, string | undefined>;

/** The per-user application data folder (Electron's appData) of the platform. */
function appDataDir(platform: NodeJS.Platform, env: Env, home: string): string {
  if (platform === 'darwin') return join(home, 'Library', 'Application Support');
  if (platform === 'win32') return env.APPDATA || join(home, 'AppData', 'Roaming');
  return env.XDG_CONFIG_HOME || join(home, '.config');
}

/** The app's own data folder: database, thumbnails, installed models, window state. */
export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: Env = process.env,
  home: string = homedir(),
): string {
  return join(appDataDir(platform, env, home), APP_NAME);
}

/** The desktop app's database, the default of every headless command's --db. */
export function defaultDatabasePath(): string {
  return join(defaultDataDir(), DATABASE_FILE);
}

/** A command's --db value as an absolute path; the desktop app's database when it is not given. */
export function databasePath(option: string | undefined): string {
  return resolve(option ?? defaultDatabasePath());
}
