import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startIngressProcess, type IngressProcess } from '../src/ingress/ingress-process.ts';
import { isAlive, waitUntil } from '../src/stack/processes.ts';
import { parseResponse } from './raw-http.ts';

/** Resident set size of a process, from /proc (what `ps` and the issue measured). */
function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) * 1024;
}

describe('the ingress as its own process', () => {
  let upstream: http.Server;
  let ingress: IngressProcess;
  const unreachable: string[] = [];

  beforeAll(async () => {
    // Like a service: a declared body over 64 KiB gets 413 at once, before it is read.
    upstream = http.createServer((req, res) => {
      const status = Number(req.headers['content-length'] ?? 0) > 64 * 1024 ? 413 : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ replica: 'live', status }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    ingress = await startIngressProcess({
      port: 0,
      routes: [{ prefix: '/api/echo', service: 'echo' }],
      onUnreachable: (replica) => unreachable.push(replica),
    });
    ingress.setTargets('echo', [
      { replica: 'live', port: (upstream.address() as { port: number }).port },
    ]);
  });
  afterAll(async () => {
    const closed = ingress.close();
    ingress.closeAllConnections();
    await closed;
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('routes to the targets the supervisor sends it and reports refusals back', async () => {
    const status = async () => (await fetch(`${ingress.url}/api/echo/x`)).status;
    const live = { replica: 'live', port: (upstream.address() as { port: number }).port };

    const routed = await status();
    // Targets travel over IPC: the ingress sees them a moment later.
    ingress.setTargets('echo', [{ replica: 'gone', port: 1 }]);
    const refused = await waitUntil(async () => (await status()) === 503, 5000);
    ingress.setTargets('echo', [live]);
    const back = await waitUntil(async () => (await status()) === 200, 5000);

    expect(ingress.pid).not.toBe(process.pid);
    expect([routed, refused, back]).toEqual([200, true, true]);
    expect(new Set(unreachable)).toEqual(new Set(['gone']));
  });

  test('keeps its memory flat while 200 connections each send 960 KiB of a declared 1 MiB body', async () => {
    const connections = 200;
    const sent = Buffer.alloc(960 * 1024, 'x');
    const head =
      `POST /api/echo/upload HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n` +
      `content-length: ${1024 * 1024}\r\n\r\n`;
    const before = rssBytes(ingress.pid);
    const answers: number[] = [];
    const sockets: net.Socket[] = [];
    let peak = before;
    let written = 0;

    for (let index = 0; index < connections; index++) {
      const socket = net.connect(ingress.port, '127.0.0.1');
      sockets.push(socket);
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const response = parseResponse(received);
        if (response) {
          answers.push(response.status);
          received = Buffer.alloc(0);
        }
      });
      socket.on('error', () => {});
      socket.write(head);
      socket.write(sent, () => written++);
    }
    const allWritten = await waitUntil(() => {
      peak = Math.max(peak, rssBytes(ingress.pid));
      return written === connections;
    }, 60_000);
    const allAnswered = await waitUntil(() => {
      peak = Math.max(peak, rssBytes(ingress.pid));
      return answers.length === connections;
    }, 30_000);
    for (const socket of sockets) socket.destroy();

    // Buffering every body took +199 MB and answered none; streaming measured +60 to +65 MB
    // (socket and stream buffers of 400 connections, and the allocator's high-water mark).
    expect((peak - before) / 2 ** 20).toBeLessThan(100);
    expect(allWritten).toBe(true);
    expect(allAnswered).toBe(true);
    expect(answers.every((status) => status === 413)).toBe(true);
    expect(isAlive(ingress.pid)).toBe(true);
  }, 120_000);

  test('is started again on the same port when it dies', async () => {
    const first = ingress.pid;

    process.kill(first, 'SIGKILL');
    const back = await waitUntil(
      async () =>
        ingress.pid !== first &&
        (await fetch(`${ingress.url}/api/echo/x`).then(
          (response) => response.status === 200,
          () => false,
        )),
      15_000,
    );

    expect(back).toBe(true);
    expect(isAlive(first)).toBe(false);
  });
});
