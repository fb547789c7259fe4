#!/usr/bin/env node
// `npm start`: the desktop app (electron-vite preview), after checking what it needs, so that a
// missing piece is named with what to do instead of Electron's "Error: Electron uninstall".
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const problems = [];

try {
  require('electron');
} catch {
  problems.push(
    'The Electron binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD was set, or its download failed).',
    '  To fix: node node_modules/electron/install.js   (downloads it; needs access to github.com)',
  );
}
if (!existsSync(join(root, 'build', 'electron-native', 'better_sqlite3.node'))) {
  problems.push(
    'The SQLite binding for Electron is missing (build/electron-native/better_sqlite3.node).',
    '  To fix: node scripts/build-electron-sqlite.mjs   (needs a C++ tool chain when no prebuilt binary fits)',
  );
}
if (problems.length > 0) {
  console.error(`metatpt: the desktop app cannot start:\n${problems.join('\n')}`);
  console.error('Without the desktop app, serve mode runs the same workbench in a browser:');
  console.error('  npm run build && npm run cli -- serve --db ~/metatpt/workbench.db');
  process.exit(1);
}

const preview = spawnSync(
  join(root, 'node_modules', '.bin', 'electron-vite'),
  ['preview', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  },
);
process.exit(preview.status ?? 1);
