// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Modules that do I/O; engine/core must stay pure (DESIGN section 6). */
const ioModules = [
  'node:*', 'fs', 'fs/*', 'path', 'os', 'net', 'http', 'https', 'child_process', 'crypto',
  'worker_threads', 'timers', 'timers/*', 'process', 'events', 'stream', 'url', 'util',
  'better-sqlite3', '@nats-io/*', 'nats', 'fastify', 'fastify*', '@fastify/*', 'pino', 'pino*',
  '@opentelemetry/*', 'yaml', 'ajv', 'commander',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**', '.tap/**', 'tap-snapshots/**', '.stryker-tmp/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', Buffer: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use a const object and a type of the same name instead of enum.' }],
    },
  },
  {
    files: ['engine/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ioModules, message: 'engine/core is pure: no I/O, no Node built-ins, no adapters. Pass data in instead.' }],
      }],
      'no-restricted-globals': ['error',
        { name: 'Date', message: 'engine/core is pure: time comes in as data (now).' },
        { name: 'setTimeout', message: 'engine/core is pure: emit a ScheduleTimer effect.' },
        { name: 'setInterval', message: 'engine/core is pure.' },
        { name: 'process', message: 'engine/core is pure.' },
        { name: 'require', message: 'engine/core is pure.' },
        { name: 'fetch', message: 'engine/core is pure.' },
        { name: 'console', message: 'engine/core is pure: return events, do not log.' },
      ],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'engine/core is pure: randomness comes in as data.' }],
    },
  },
);
