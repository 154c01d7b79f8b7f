import { spawn } from 'node:child_process';
import { goEnvironment } from './config.ts';

/** A build that cannot go on, with a message that says what is missing and what to do. */
export class BuildError extends Error {}

export interface GoRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface GoOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Each line of stderr as it comes (go build -v names every package it compiles there). */
  onLine?: (line: string) => void;
  /** Runs under `nice -n 19`: builds share two cores with tests and benchmarks. */
  nice?: boolean;
}

/** Runs `go <args>`; a missing `go` becomes a BuildError that says how to get one. */
export function runGo(args: string[], options: GoOptions = {}): Promise<GoRun> {
  const [command, commandArgs] = options.nice
    ? ['nice', ['-n', '19', 'go', ...args]]
    : ['go', args];
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, {
      cwd: options.cwd,
      env: { ...goEnvironment(), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) options.onLine?.(line);
    });
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new BuildError(
              'Go is not installed (no `go` on PATH). Install Go 1.26 or newer ' +
                '(https://go.dev/dl, or your package manager), then run this again.',
            )
          : error,
      ),
    );
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** `go env` values, and the proof that Go runs at all. */
export async function goEnv(): Promise<{ GOVERSION: string; GOPROXY: string }> {
  const run = await runGo(['env', '-json', 'GOVERSION', 'GOPROXY']);
  if (run.code !== 0) throw new BuildError(`\`go env\` failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as { GOVERSION: string; GOPROXY: string };
}

/** Modules the proxy refused (`module@version`), read from go's error output. */
export function refusedModules(stderr: string): string[] {
  const refused = new Set<string>();
  for (const match of stderr.matchAll(/(\S+@v\S+?): reading \S+: (403|404|410)/g)) {
    refused.add(match[1]!);
  }
  return [...refused];
}

/** Explains a failed module download: proxy unreachable, or the version not served. */
export function explainDownloadFailure(what: string, stderr: string, proxy: string): BuildError {
  const firstLine = stderr.trim().split('\n')[0] ?? '';
  const mismatch = /verifying (\S+): checksum mismatch/.exec(stderr);
  if (mismatch) {
    // Never worked around (GONOSUMDB, GOFLAGS=-insecure): the hashes are the module's own pins.
    return new BuildError(
      `${mismatch[1]} as served (GOPROXY=${proxy}) does not match the hash in the go.sum of ` +
        `${what}: a checksum mismatch, which Go's module authentication refuses:\n${stderr}`,
    );
  }
  if (/dial tcp|no such host|timeout|connection refused|network is unreachable/i.test(stderr)) {
    return new BuildError(
      `the Go module proxy is not reachable (GOPROXY=${proxy}), so ${what} cannot be ` +
        `downloaded:\n  ${firstLine}\nSet GOPROXY to a proxy you can reach, then run this again.`,
    );
  }
  return new BuildError(`the Go module proxy (GOPROXY=${proxy}) did not serve ${what}:\n${stderr}`);
}
