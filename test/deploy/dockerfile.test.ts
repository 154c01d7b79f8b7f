import { describe, expect, test } from '@jest/globals';
import {
  checkDockerfile,
  dockerfileInputs,
  dockerfileRules,
  type DockerfileInput,
} from './dockerfile.checks.ts';
import { replacedIn } from './mutate.ts';

// Each rule holds for the three Dockerfiles, and each is shown to fail on a copy broken on purpose.

const orders = () => dockerfileInputs().find((input) => input.service === 'orders')!;

/** The orders Dockerfile with one text replaced; the replacement must change something. */
function replaced(from: string | RegExp, to: string, input = orders()): DockerfileInput {
  return { ...input, text: replacedIn(input.text, from, to, 'the Dockerfile') };
}

const broken: [rule: string, input: () => DockerfileInput][] = [
  ['syntax', () => replaced('COPY --from=deps /app ./', 'COPPY --from=deps /app ./')],
  ['syntax', () => replaced('--chown=1000:1000 services', '--chwn=1000:1000 services')],
  ['baseImage', () => replaced('node:24-trixie-slim', 'node:24')],
  ['baseImage', () => replaced('node:24-trixie-slim', 'node:22-bookworm-slim')],
  ['multiStage', () => replaced('AS runtime', 'AS final')],
  [
    'multiStage',
    () =>
      replaced(
        /\nUSER 1000:1000\nEXPOSE 3000\n# Exec/,
        '\nRUN npm ci\nUSER 1000:1000\nEXPOSE 3000\n# Exec',
      ),
  ],
  ['productionInstall', () => replaced('npm ci --omit=dev', 'npm ci')],
  ['productionInstall', () => replaced('npm ci --omit=dev', 'npm install --omit=dev')],
  ['productionInstall', () => replaced(' -w services/orders', '')],
  ['workspaces', () => replaced('COPY packages/contracts/package.json packages/contracts/\n', '')],
  [
    'workspaces',
    () =>
      replaced(
        /(FROM base AS runtime[\s\S]*)COPY packages\/chassis\/src packages\/chassis\/src\n/,
        '$1',
      ),
  ],
  [
    'nonRootUser',
    () => replaced(/USER 1000:1000\nEXPOSE 3000\n# Exec/, 'USER node\nEXPOSE 3000\n# Exec'),
  ],
  [
    'nonRootUser',
    () => replaced(/USER 1000:1000\nEXPOSE 3000\n# Exec/, 'USER 0\nEXPOSE 3000\n# Exec'),
  ],
  [
    'execCommand',
    () =>
      replaced(
        'CMD ["node", "services/orders/src/main.ts"]',
        'CMD node services/orders/src/main.ts',
      ),
  ],
  [
    'execCommand',
    () => replaced('CMD ["node", "services/orders/src/main.ts"]', 'CMD ["npm", "start"]'),
  ],
  ['production', () => replaced('ENV NODE_ENV=production', 'ENV NODE_ENV=development')],
  ['nodeOptions', () => replaced('ENV NODE_OPTIONS=--max-semi-space-size=4\n', '')],
  ['nodeOptions', () => replaced('--max-semi-space-size=4', '--max-semi-space-size=16')],
  [
    'readOnlyRoot',
    () =>
      replaced('ENV NODE_ENV=production', 'ENV NODE_ENV=production NODE_COMPILE_CACHE=/app/.cache'),
  ],
  ['readOnlyRoot', () => replaced('WORKDIR /app', 'WORKDIR /app\nVOLUME /app/data')],
  ['devTarget', () => replaced('AS dev', 'AS develop')],
  ['devTarget', () => replaced('"--watch", ', '')],
  [
    'devTarget',
    () => replaced('COPY --chown=1000:1000 services/orders/src', 'COPY services/orders/src'),
  ],
  [
    'context',
    () =>
      replaced(
        'COPY services/orders/src services/orders/src',
        'COPY services/orders/source services/orders/src',
      ),
  ],
  [
    'context',
    () => ({ ...orders(), dockerignore: orders().dockerignore.replace('!services/*/src\n', '') }),
  ],
  ['sameAsAuth', () => replaced('--no-audit ', '')],
];

describe('services/*/Dockerfile', () => {
  test.each(dockerfileInputs().map((input) => [input.service, input] as const))(
    '%s holds every rule',
    (_service, input) => {
      expect(checkDockerfile(input)).toEqual([]);
    },
  );

  test.each(broken)('rule %s fails on a broken copy (#%#)', (rule, input) => {
    const problems = checkDockerfile(input());

    expect(problems.filter((problem) => problem.startsWith(`orders ${rule}:`))).not.toEqual([]);
  });

  test('every rule has a broken copy that makes it fail', () => {
    expect(new Set(broken.map(([rule]) => rule))).toEqual(new Set(Object.keys(dockerfileRules)));
  });
});
