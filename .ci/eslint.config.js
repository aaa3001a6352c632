// ESLint for pcloud (flat config): typescript-eslint's recommended type-checked rules over every TypeScript file of
// src/, test/, compat/ and bench/. `npm run lint` passes this file with --config, so the patterns below are relative
// to the working directory: run it from the project's root.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'compat/terraform/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: process.cwd() } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A name starting with `_` is left unused on purpose (a value destructured away, an argument an interface passes).
      '@typescript-eslint/no-unused-vars': ['error', {
        argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true,
      }],
      // Validators refuse control characters (NUL, newlines) in hostile input by regex on purpose.
      'no-control-regex': 'off',
      // As only-throw-error allows by default: passing on what was caught (unknown) or an AbortSignal's reason (any).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
    },
  },
  {
    // A declaration file states what a module exports: a name used only as a type there is not unused.
    files: ['**/*.d.ts'],
    rules: { '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Test doubles implement the host's Promise-returning interfaces with async methods: a throw becomes a
      // rejection, as in the real driver.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
