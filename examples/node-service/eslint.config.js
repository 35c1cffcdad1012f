// ESLint's recommended rules for Node.js ES modules, plus a few that catch real bugs.
// Run with `npx eslint .` (pipelines.toml [lint] runs node_modules/.bin/eslint).

import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/', 'reports/'] },
  js.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      eqeqeq: 'error',
      'no-implicit-coercion': 'error',
      'no-shadow': 'error',
      'no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
];
