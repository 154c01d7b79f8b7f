import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Ignore } from '@balena/dockerignore';
import { DockerfileParser, type Flag, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { appNodeOptions } from '@sidecart/dev/config';
import { repoRoot } from './render.ts';
import { services, type ServiceName } from './k3d-cluster.ts';

// A CommonJS module without a `default` export: its types and Node's ESM view disagree.
const dockerignore = createRequire(import.meta.url)('@balena/dockerignore') as (options?: {
  ignorecase?: boolean;
}) => Ignore;

// Checks of services/<svc>/Dockerfile that need no Docker: the instructions as Docker's own
// parser reads them (dockerfile-ast, the VS Code Docker extension's parser), stage by stage.

export interface DockerfileInput {
  service: ServiceName;
  text: string;
  dockerignore: string;
}

export const readDockerfile = (service: ServiceName): string =>
  readFileSync(path.join(repoRoot, 'services', service, 'Dockerfile'), 'utf8');
export const readDockerignore = (): string =>
  readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8');

interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

function stagesOf(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const [from = '', , name] = instruction.getArguments().map((arg) => arg.getValue());
      stages.push({ name: name ?? String(stages.length), from, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** A stage's instructions with those of the stages it is built FROM, oldest first. */
function lineage(stages: Stage[], stage: Stage): Instruction[] {
  const parent = stages.find((candidate) => candidate.name === stage.from);
  return [...(parent ? lineage(stages, parent) : []), ...stage.instructions];
}

const keyword = (instructions: Instruction[], name: string) =>
  instructions.filter((instruction) => instruction.getKeyword() === name);
const args = (instruction: Instruction) => instruction.getArguments().map((arg) => arg.getValue());
/** A flag such as COPY's --from; only instructions that take flags have getFlags. */
const flag = (instruction: Instruction, name: string) =>
  (instruction as Partial<{ getFlags(): Flag[] }>)
    .getFlags?.()
    .find((candidate) => candidate.getName() === name)
    ?.getValue();

function execForm(instruction: Instruction | undefined): string[] | undefined {
  try {
    const value: unknown = JSON.parse(instruction?.getArgumentsContent() ?? '');
    return Array.isArray(value) && value.every((item) => typeof item === 'string')
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}

/** The @sidecart/* workspaces a service links, itself included, as repo-relative folders. */
export function workspacesOf(service: ServiceName): string[] {
  const folders = [`services/${service}`];
  for (const folder of folders) {
    const manifest = JSON.parse(
      readFileSync(path.join(repoRoot, folder, 'package.json'), 'utf8'),
    ) as {
      dependencies?: Record<string, string>;
    };
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const linked = name.startsWith('@sidecart/')
        ? `packages/${name.slice('@sidecart/'.length)}`
        : undefined;
      if (linked && !folders.includes(linked)) folders.push(linked);
    }
  }
  return folders;
}

const baseImage = /^node:24(\.\d+){0,2}-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/;
const cacheVariables = /^(NODE_COMPILE_CACHE|NPM_CONFIG_CACHE|XDG_CACHE_HOME|HOME)=/;

type Rule = (input: DockerfileInput, stages: Stage[]) => string[];

/** Every rule, by name; each returns the problems it finds (none: the rule holds). */
export const dockerfileRules: Record<string, Rule> = {
  syntax: ({ text }) =>
    validate(text).map(
      (diagnostic) => `line ${diagnostic.range.start.line + 1}: ${diagnostic.message}`,
    ),

  // Debian slim: glibc for @node-rs/argon2's prebuilt binary; Node 24 strips the types.
  baseImage: (_input, stages) =>
    stages
      .filter((stage) => !stages.some((other) => other.name === stage.from))
      .filter((stage) => !baseImage.test(stage.from))
      .map((stage) => `stage ${stage.name} starts from ${stage.from}, not node:24-<debian>-slim`),

  // The image ships what the install produced, not npm's cache or the install's layers.
  multiStage: (_input, stages) => {
    const runtime = stages.at(-1);
    if (stages.length < 2 || runtime?.name !== 'runtime')
      return ['the last stage is not `runtime`'];
    return keyword(runtime.instructions, 'RUN').map(
      (run) => `runtime stage runs ${run.getArgumentsContent()}`,
    );
  },

  productionInstall: ({ service }, stages) => {
    const runs = stages.flatMap((stage) => keyword(stage.instructions, 'RUN').map(args));
    const installs = runs.filter(
      (run) => run[0] === 'npm' && ['ci', 'install', 'i'].includes(run[1] ?? ''),
    );
    if (installs.length !== 1) return [`${installs.length} npm installs, expected one npm ci`];
    const install = installs[0]!;
    const problems: string[] = [];
    if (install[1] !== 'ci') problems.push('not npm ci (the lockfile must decide)');
    if (!install.includes('--omit=dev')) problems.push('devDependencies are installed');
    const workspace = install.flatMap((arg, index) =>
      ['-w', '--workspace'].includes(arg)
        ? [install[index + 1]]
        : arg.startsWith('--workspace=')
          ? [arg.slice(12)]
          : [],
    );
    if (workspace.length !== 1 || workspace[0] !== `services/${service}`) {
      problems.push(
        `installs ${workspace.join(', ') || 'every workspace'}, not services/${service}`,
      );
    }
    return problems;
  },

  // npm links the workspaces the service depends on: their manifests before the install, their
  // sources in the image.
  workspaces: ({ service }, stages) => {
    const sourcesOf = (stage: Stage | undefined) =>
      keyword(stage?.instructions ?? [], 'COPY')
        .filter((copy) => flag(copy, 'from') === undefined)
        .flatMap((copy) => args(copy).slice(0, -1));
    const install = stages.find((stage) =>
      keyword(stage.instructions, 'RUN').some((run) => args(run).join(' ').includes('npm ci')),
    );
    const beforeInstall = sourcesOf(install);
    const inImage = sourcesOf(stages.at(-1));
    return workspacesOf(service).flatMap((folder) => [
      ...(beforeInstall.includes(`${folder}/package.json`)
        ? []
        : [`${folder}/package.json is not copied before npm ci`]),
      ...(inImage.includes(`${folder}/src`) ? [] : [`${folder}/src is not in the runtime stage`]),
    ]);
  },

  // kubelet can verify runAsNonRoot only for a numeric user.
  nonRootUser: (_input, stages) => {
    const user = keyword(lineage(stages, stages.at(-1)!), 'USER').at(-1);
    const uid = user ? args(user)[0]?.split(':')[0] : undefined;
    return uid && /^\d+$/.test(uid) && uid !== '0'
      ? []
      : [`the runtime user is ${uid ?? 'root (none set)'}, not a numeric non-root uid`];
  },

  // Node is PID 1 and gets SIGTERM itself: no shell form, no npm in between.
  execCommand: ({ service }, stages) => {
    const command = execForm(keyword(lineage(stages, stages.at(-1)!), 'CMD').at(-1));
    const main = `services/${service}/src/main.ts`;
    if (!command) return ['CMD is not in exec form'];
    const problems =
      command.join(' ') === `node ${main}` ? [] : [`CMD is ${command.join(' ')}, not node ${main}`];
    return existsSync(path.join(repoRoot, main))
      ? problems
      : [...problems, `${main} does not exist`];
  },

  production: (_input, stages) =>
    keyword(lineage(stages, stages.at(-1)!), 'ENV').some((env) =>
      /NODE_ENV=production\b/.test(env.getArgumentsContent() ?? ''),
    )
      ? []
      : ['NODE_ENV is not production'],

  // The V8 flags every app runs with on the local stack (ADR 0013), the same in the image.
  nodeOptions: (_input, stages) =>
    keyword(lineage(stages, stages.at(-1)!), 'ENV')
      .flatMap(args)
      .includes(`NODE_OPTIONS=${appNodeOptions}`)
      ? []
      : [`NODE_OPTIONS is not ${appNodeOptions}, as the local stack runs the apps`],

  // The Deployment mounts the root filesystem read-only with an emptyDir at /tmp only.
  readOnlyRoot: (_input, stages) => {
    const instructions = lineage(stages, stages.at(-1)!);
    return [
      ...keyword(instructions, 'VOLUME').map(
        () => 'a VOLUME: the Deployment decides what is writable',
      ),
      ...keyword(instructions, 'ENV')
        .flatMap(args)
        .filter(
          (setting) => cacheVariables.test(setting) && !setting.split('=')[1]!.startsWith('/tmp'),
        )
        .map((setting) => `${setting} is outside /tmp`),
    ];
  },

  // Tilt builds target `dev`: live update syncs src/ into it, and node --watch restarts on it.
  devTarget: ({ service }, stages) => {
    const dev = stages.find((stage) => stage.name === 'dev');
    if (!dev) return ['no `dev` stage for Tilt'];
    const user = keyword(lineage(stages, dev), 'USER').at(-1);
    const command = execForm(keyword(lineage(stages, dev), 'CMD').at(-1));
    const synced = keyword(dev.instructions, 'COPY').find(
      (copy) => args(copy)[0] === `services/${service}/src`,
    );
    return [
      ...(command?.join(' ') === `node --watch services/${service}/src/main.ts`
        ? []
        : ['dev CMD is not node --watch <main>']),
      ...(synced && user && flag(synced, 'chown') === args(user)[0]
        ? []
        : ['dev src/ is not owned by the user live update writes as']),
    ];
  },

  // What COPY takes from the context must exist and get past .dockerignore.
  context: (input, stages) => {
    const ignore = dockerignore({ ignorecase: false }).add(input.dockerignore);
    return stages
      .flatMap((stage) =>
        keyword(stage.instructions, 'COPY').filter((copy) => flag(copy, 'from') === undefined),
      )
      .flatMap((copy) => args(copy).slice(0, -1))
      .flatMap((source) => [
        ...(existsSync(path.join(repoRoot, source)) ? [] : [`${source} does not exist`]),
        ...(ignore.ignores(source) ? [`${source} is excluded by .dockerignore`] : []),
      ]);
  },

  // One recipe for all services, so a fix in one reaches all.
  sameAsAuth: ({ service, text }) =>
    text.replaceAll(service, 'SERVICE') === readDockerfile('auth').replaceAll('auth', 'SERVICE')
      ? []
      : [`services/${service}/Dockerfile differs from services/auth/Dockerfile beyond the name`],
};

export function checkDockerfile(input: DockerfileInput): string[] {
  const stages = stagesOf(input.text);
  return Object.entries(dockerfileRules).flatMap(([rule, check]) =>
    check(input, stages).map((problem) => `${input.service} ${rule}: ${problem}`),
  );
}

export const dockerfileInputs = (): DockerfileInput[] =>
  services.map((service) => ({
    service,
    text: readDockerfile(service),
    dockerignore: readDockerignore(),
  }));
