import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { databasePath, defaultDataDir } from '../../src/backend/paths.js';

describe("the app's data folder (Electron's userData for the app name)", () => {
  it('follows XDG on Linux, with ~/.config as the fallback', () => {
    expect(defaultDataDir('linux', { XDG_CONFIG_HOME: '/x/config' }, '/home/u')).toBe(
      join('/x/config', 'MetaTPT Workbench'),
    );
    expect(defaultDataDir('linux', {}, '/home/u')).toBe(join('/home/u', '.config', 'MetaTPT Workbench'));
  });

  it('uses Application Support on macOS and APPDATA on Windows', () => {
    expect(defaultDataDir('darwin', { XDG_CONFIG_HOME: '/ignored' }, '/Users/u')).toBe(
      join('/Users/u', 'Library', 'Application Support', 'MetaTPT Workbench'),
    );
    expect(defaultDataDir('win32', { APPDATA: 'C:/Users/u/AppData/Roaming' }, 'C:/Users/u')).toBe(
      join('C:/Users/u/AppData/Roaming', 'MetaTPT Workbench'),
    );
  });

  it('makes --db absolute and defaults it to workbench.db in the data folder', () => {
    expect(databasePath('rel/work.db')).toBe(join(process.cwd(), 'rel', 'work.db'));
    expect(databasePath(undefined)).toBe(join(defaultDataDir(), 'workbench.db'));
  });
});
