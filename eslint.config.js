import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const services = ['auth', 'products', 'orders'];

/** Services meet only through Dapr and @sidecart/contracts. */
const serviceBoundaries = (self) => ({
  files: [`services/${self}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: services
              .filter((s) => s !== self)
              .flatMap((s) => [`@sidecart/${s}`, `**/services/${s}/**`]),
            message: 'Services never import each other: call them through Dapr.',
          },
          { group: ['@sidecart/dev', '**/dev/**'], message: 'Production code never imports dev/.' },
        ],
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.tsbuild/**', '.data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Configuration is parsed once, in config.ts files, and passed down.
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read the environment only in a config.ts file.',
        },
      ],
    },
  },
  {
    files: [
      '**/config.ts',
      '**/*.test.ts',
      '**/test/**',
      'dev/src/postgres/jest-global-*.ts',
      // The install note is an npm hook: npm tells it which Node ran npm.
      'scripts/**',
      // Benchmarks are scripts, configured by a few knobs and the processes they start.
      'bench/**',
      '*.js',
      '**/jest.config.js',
    ],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/test/**', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...services.map(serviceBoundaries),
  {
    files: ['packages/chassis/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: services.map((s) => `@sidecart/${s}`).concat('**/services/**'),
              message: 'The chassis knows no service.',
            },
            {
              group: ['@sidecart/dev', '**/dev/**'],
              message: 'Production code never imports dev/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@sidecart/*', 'koa', '@mikro-orm/*', '@dapr/*'],
              message: 'Contracts are pure schemas (zod only).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['dev/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: services.map((s) => `@sidecart/${s}`).concat('**/services/**'),
              message: 'dev/ starts services as processes; it never imports their code.',
            },
          ],
        },
      ],
    },
  },
);
