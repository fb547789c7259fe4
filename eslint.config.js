import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import pluginVue from 'eslint-plugin-vue';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

// The layers, bottom up: src/shared/domain (the domain's facts and types) ← src/shared (the API
// contract) ← src/renderer; src/shared/domain ← src/engine (a library, no app) ← src/backend ← src/cli
// and src/main. Each entry: the files, and the imports they may not use, with the reason the lint
// message gives. test/lint/layers.test.ts checks that each rule fires.
const app = ['**/backend/**', '**/renderer/**', '**/cli/**', '**/main/**', '**/preload/**'];
const layers = [
  {
    files: ['src/shared/domain/**'],
    forbidden: [...app, '**/engine/**', '../*.js'],
    message: 'src/shared/domain is the bottom layer: it imports nothing of the app or the engine.',
  },
  {
    files: ['src/shared/**'],
    // A file gets one no-restricted-imports setting (the last that matches): the domain keeps its own.
    ignores: ['src/shared/domain/**'],
    forbidden: [...app, '**/engine/**'],
    message: 'src/shared is the contract: it imports nothing of the backend, the renderer or the engine.',
  },
  {
    files: ['src/engine/**'],
    forbidden: [...app, '**/shared/*.js'],
    message: 'src/engine is a library: it imports nothing of the app (src/shared/domain only).',
  },
  {
    files: ['src/renderer/**'],
    forbidden: ['**/backend/**', '**/engine/**', '**/cli/**', '**/main/**', '**/preload/**'],
    message: 'The renderer talks to the backend through the API only (src/shared).',
  },
  {
    files: ['src/backend/store/**'],
    forbidden: ['**/jobs/**', '**/services/**', '**/engine-host/**'],
    message: 'The store maps rows to domain types; it knows nothing of the queue or the services.',
  },
];

export default tseslint.config(
  { ignores: ['node_modules', 'out', 'dist', 'build', 'coverage', 'test/fixtures', 'resources'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...layers.map(({ files, ignores = [], forbidden, message }) => ({
    files,
    ignores,
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message }] }] },
  })),
  prettier,
);
