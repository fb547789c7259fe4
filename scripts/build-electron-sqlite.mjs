#!/usr/bin/env node
// better-sqlite3 is a native module. `npm ci` builds it for Node (tests, CLI, serve mode); the Electron
// app needs a second copy built for Electron's ABI. This script makes that copy in
// build/electron-native/ and leaves node_modules untouched, so Node and Electron each load their own
// binding (the main process passes it as better-sqlite3's `nativeBinding` option).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const electronVersion = require('electron/package.json').version;
const source = dirname(require.resolve('better-sqlite3/package.json'));
const work = join(root, 'build', 'electron-native', 'better-sqlite3');
const target = join(root, 'build', 'electron-native', 'better_sqlite3.node');

rmSync(work, { recursive: true, force: true });
mkdirSync(dirname(work), { recursive: true });
cpSync(source, work, { recursive: true, filter: (path) => !path.includes(`${source}/build`) });

const env = { ...process.env, npm_config_runtime: 'electron', npm_config_target: electronVersion };
try {
  // A prebuilt binary for this Electron version, when one is published.
  execFileSync(
    require.resolve('prebuild-install/bin.js'),
    ['--runtime', 'electron', '--target', electronVersion],
    {
      cwd: work,
      env,
      stdio: 'inherit',
    },
  );
} catch {
  console.log(
    `No prebuilt better-sqlite3 for Electron ${electronVersion}; compiling it against Electron's headers.`,
  );
  execFileSync(
    process.execPath,
    [
      require.resolve('node-gyp/bin/node-gyp.js'),
      'rebuild',
      '--release',
      `--target=${electronVersion}`,
      '--dist-url=https://electronjs.org/headers',
    ],
    { cwd: work, env: { ...env, npm_config_nodedir: '' }, stdio: 'inherit' },
  );
}
const built = join(work, 'build', 'Release', 'better_sqlite3.node');
if (!existsSync(built)) throw new Error(`the Electron build of better-sqlite3 did not produce ${built}`);
cpSync(built, target);
rmSync(work, { recursive: true, force: true });
console.log(`Electron ${electronVersion} binding of better-sqlite3: ${target}`);
