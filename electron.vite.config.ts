import { resolve } from 'node:path';
import { defineConfig, externalizeDepsPlugin } from 'electron-vite';
import vue from '@vitejs/plugin-vue';

export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    build: {
      rollupOptions: {
        input: {
          index: resolve('src/main/index.ts'),
          // The backend's utility process; the main process forks out/main/backend.js.
          backend: resolve('src/main/backend-process.ts'),
          // The engine's worker process; the backend forks it from out/main/engine-worker.js.
          'engine-worker': resolve('src/backend/engine-host/engine-worker.ts'),
        },
      },
    },
  },
  preload: {
    plugins: [externalizeDepsPlugin()],
    // Sandboxed preload scripts must be CommonJS.
    build: {
      rollupOptions: {
        input: { index: resolve('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve('src/renderer'),
    // Relative asset URLs: the same build loads from file:// in Electron and from / in serve mode.
    base: './',
    plugins: [vue()],
    build: { rollupOptions: { input: { index: resolve('src/renderer/index.html') } } },
  },
});
