#!/usr/bin/env bash
# One-time set-up after cloning: dependencies, the Electron build of the SQLite binding, the app build.
# Every step runs even when an earlier optional one failed; the end says what works and what to do.
set -uo pipefail
cd "$(dirname "$0")/.."

failed_required=0
notes=()

step() {
  local title=$1
  shift
  echo
  echo "==> ${title}"
  "$@"
}

if ! step 'Installing dependencies (npm ci)' npm ci; then
  echo
  echo 'Set-up stopped: `npm ci` failed (see above). Nothing else can be set up without the dependencies.'
  echo 'Check Node (>= 20.19: node --version) and the network, then run npm run setup again.'
  exit 1
fi

if ! step 'Building the SQLite binding for Electron (desktop app only)' node scripts/build-electron-sqlite.mjs; then
  notes+=(
    'The desktop app will not start yet: the SQLite binding could not be built for Electron (see above).'
    '  Serve mode and the CLI do not need it: npm run cli -- serve --db ~/metatpt/workbench.db'
    '  To fix: install a C++ tool chain (Linux: python3 make g++; macOS: xcode-select --install;'
    '  Windows: Visual Studio Build Tools) and run: node scripts/build-electron-sqlite.mjs'
  )
fi

if ! step 'Building the app (npm run build)' npm run build; then
  failed_required=1
  notes+=('The app could not be built (see above): neither `npm start` nor serve mode has a UI until `npm run build` succeeds.')
fi

if ! node -e "require('electron')" >/dev/null 2>&1; then
  notes+=(
    'The Electron binary is not installed (ELECTRON_SKIP_BINARY_DOWNLOAD was set, or its download failed).'
    '  To fix: node node_modules/electron/install.js   (downloads it; needs access to github.com)'
    '  Without it, use serve mode in a browser: npm run cli -- serve --db ~/metatpt/workbench.db'
  )
fi

echo
if [ ${#notes[@]} -eq 0 ]; then
  echo 'Set-up done. Start the workbench with: npm start'
else
  echo 'Set-up finished with problems:'
  printf '%s\n' "${notes[@]}"
fi
exit "$failed_required"
