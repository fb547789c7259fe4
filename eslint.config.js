import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import pluginVue from 'eslint-plugin-vue';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

// The layers, bottom up: src/shared/domain (the domain's facts) ← src/engine (a library, no app) ←
// src/backend ← src/cli and src/main; src/shared (the API contract) ← src/renderer. Each entry: the
// files, and the imports they may not use, with the reason the lint message gives.
const layers = [
  {
    files: ['src/shared/domain/**'],
    forbidden: ['**/engine/**', '**/backend/**', '**/renderer/**', '**/cli/**', '**/main/**', '../*.js'],
    message: 'src/shared/domain is the bottom layer: it imports nothing of the app or the engine.',
  },
  {
    files: ['src/engine/**'],
    forbidden: [
      '**/backend/**',
      '**/renderer/**',
      '**/cli/**',
      '**/main/**',
      '**/preload/**',
      '**/shared/*.js',
    ],
    message: 'src/engine is a library: it imports nothing of the app (src/shared/domain only).',
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
  ...layers.map(({ files, forbidden, message }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message }] }] },
  })),
  prettier,
);
