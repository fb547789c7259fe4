#!/usr/bin/env bash
# One-time set-up after cloning: dependencies, the Electron build of the SQLite binding, the app build.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci
node scripts/build-electron-sqlite.mjs
npm run build
echo "Set-up done. Start the workbench with: npm start"
