import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { type DaprClient, HttpMethod } from '@dapr/dapr';
import pg from 'pg';
import { freePort } from '../../src/stack/ports.ts';
import { waitUntil } from '../../src/stack/processes.ts';
import { startRecordingApp, type RecordingApp } from './fixtures/invocation-app.ts';
import {
  createSdkClient,
  describeDevOnly,
  sidecarTarget,
  startTestSidecar,
  testKnownDifference,
  type TestSidecar,
} from './harness.ts';

// Service invocation through two dev sidecars (docs/dapr-behaviour.md §2; gotchas 1–3 of §9): request forms,
// what the callee app receives, pass-through of answers, Dapr-side failures, resiliency, ACL,
// replicas, and the same calls through @dapr/dapr.

const apiToken = 'api-secret';
const appApiToken = 'app-secret';

const calleeConfiguration = `
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: { name: callee-config }
spec:
  accessControl:
    defaultAction: allow
    trustDomain: public
    policies:
      - appId: caller
        defaultAction: allow
        trustDomain: public
        namespace: default
        operations:
          - { name: /admin/**, httpVerb: ['*'], action: deny }
          - { name: /orders/*, httpVerb: [DELETE], action: deny }
`;

/** A Resiliency resource; `calleeTarget` names the policies for app `callee`. */
const resiliency = (policies: string, calleeTarget?: string) => `
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: { name: test-resiliency }
spec:
  policies: ${policies}
  targets: ${calleeTarget ? `{ apps: { callee: ${calleeTarget} } }` : '{}'}
`;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A raw HTTP call: no client-side path normalisation, no headers but the given ones. */
function call(
  port: number,
  method: string,
  path: string,
  options: { headers?: OutgoingHttpHeaders; body?: string | Buffer; chunks?: string[] } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method, path, headers: options.headers, agent: false },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode!, headers: response.headers, text }),
        );
      },
    );
    request.on('error', reject);
    for (const chunk of options.chunks ?? []) request.write(chunk);
    request.end(options.body);
  });
}

const directInvokeError = (message: string) => ({ errorCode: 'ERR_DIRECT_INVOKE', message });

describe('service invocation between dev sidecars', () => {
  let calleeApp: RecordingApp;
  let callerApp: RecordingApp;
  let callee: TestSidecar;
  let caller: TestSidecar;
  const others: { close(): Promise<void> }[] = [];

  const invoke = (
    method: string,
    path: string,
    options: { headers?: OutgoingHttpHeaders; body?: string | Buffer; chunks?: string[] } = {},
  ) =>
    call(caller.httpPort, method, path, {
      ...options,
      headers: { 'dapr-api-token': apiToken, ...options.headers },
    });

  /** Another sidecar on the shared registry database, closed in afterAll. */
  const startSidecar = async (options: Parameters<typeof startTestSidecar>[0]) => {
    const sidecar = await startTestSidecar({ databaseUrl: callee.databaseUrl, ...options });
    others.push(sidecar);
    return sidecar;
  };
  const startApp = async (name: string, options?: { closeConnections?: boolean }) => {
    const app = await startRecordingApp(name, options);
    others.push(app);
    return app;
  };

  beforeAll(async () => {
    calleeApp = await startRecordingApp('callee');
    callerApp = await startRecordingApp('caller');
    callee = await startTestSidecar({
      appId: 'callee',
      appPort: calleeApp.port,
      appApiToken,
      resources: calleeConfiguration,
    });
    caller = await startTestSidecar({
      appId: 'caller',
      appPort: callerApp.port,
      apiToken,
      databaseUrl: callee.databaseUrl,
    });
    await Promise.all([callee.appReady, caller.appReady]);
  });

  beforeEach(() => {
    calleeApp.received.length = 0;
    callerApp.received.length = 0;
  });

  afterAll(async () => {
    // Sidecars first: each deregisters from the shared database before it goes.
    await Promise.all(others.reverse().map((other) => other.close()));
    await caller?.close();
    await callee?.close();
    await calleeApp?.close();
    await callerApp?.close();
  });

  describe('request forms (docs/dapr-behaviour.md §2.1)', () => {
    test('a path no route claims, or a Dapr route with the wrong verb, answers 404 ERR_DIRECT_INVOKE without an app id', async () => {
      for (const [method, path] of [
        ['GET', '/v1.0/publish/pubsub/orders'],
        ['POST', '/no/such/route'],
        ['GET', '/v1.0/invoke/callee/method'],
        ['GET', '/v1.0/invoke//method/x'],
      ] as const) {
        const answer = await invoke(method, path);

        expect([method, path, answer.status]).toEqual([method, path, 404]);
        expect(answer.headers['content-type']).toBe('application/json');
        expect(JSON.parse(answer.text)).toEqual(
          directInvokeError(
            'failed getting app id either from the URL path or the header dapr-app-id',
          ),
        );
      }
      expect(calleeApp.received).toEqual([]);
    });

    test('with a dapr-app-id header the whole path is the method; query and body pass, the header does not', async () => {
      const answer = await invoke('POST', '/orders/42?x=1&y=a%20b', {
        headers: { 'dapr-app-id': 'callee', 'content-type': 'application/json' },
        body: '{"a":1}',
      });

      expect(answer.status).toBe(200);
      expect(calleeApp.received).toHaveLength(1);
      const [received] = calleeApp.received;
      expect(received).toMatchObject({
        method: 'POST',
        url: '/orders/42?x=1&y=a%20b',
        body: '{"a":1}',
      });
      expect(received!.headers['content-type']).toBe('application/json');
      expect(received!.headers['content-length']).toBe('7');
      expect(received!.headers['dapr-app-id']).toBeUndefined();
    });

    test('Basic dapr-app-id:<id> credentials name the app too, and the header is kept', async () => {
      const authorization = `Basic ${Buffer.from('dapr-app-id:callee').toString('base64')}`;

      const answer = await invoke('PUT', '/carts/7', { headers: { authorization } });

      expect(answer.status).toBe(200);
      expect(calleeApp.received.map(({ method, url }) => [method, url])).toEqual([
        ['PUT', '/carts/7'],
      ]);
      expect(calleeApp.received[0]!.headers.authorization).toBe(authorization);
    });

    test('/v1.0/invoke/<id>/method/<method>: any verb, an escaped id, app.namespace, a decoded and cleaned method', async () => {
      const calls = [
        ['PATCH', '/v1.0/invoke/cal%6Cee/method/a/../b/'],
        ['GET', '/v1.0/invoke/callee.default/method/in-namespace'],
        ['DELETE', '/v1.0/invoke/callee/method/items/x%2Fy?force=true'],
        ['OPTIONS', '/v1.0/invoke/callee/method/'],
        ['GET', '/v1.0/invoke/callee/method/a%20b+c%C3%A9'],
        ['GET', '/v1.0/invoke/callee/method/a%2541/%2E%2E/%2e%2e/z'],
      ];

      for (const [method, path] of calls) expect((await invoke(method!, path!)).status).toBe(200);

      // Go decodes the path, cleans it, then writes it as net/url escapes it again.
      expect(calleeApp.received.map(({ method, url }) => [method, url])).toEqual([
        ['PATCH', '/b'],
        ['GET', '/in-namespace'],
        ['DELETE', '/items/x/y?force=true'],
        ['OPTIONS', '/'],
        ['GET', '/a%20b+c%C3%A9'],
        ['GET', '/z'],
      ]);
    });

    test('a method holding ? # or control characters, or an id with two dots, fails with 500 ERR_DIRECT_INVOKE', async () => {
      const cases = [
        [
          '/v1.0/invoke/callee/method/a%3Fb',
          'failed to invoke, id: callee, err: rpc error: code = InvalidArgument desc = invalid method: method contains forbidden character: "a?b"',
        ],
        [
          '/v1.0/invoke/callee/method/a%23b',
          'failed to invoke, id: callee, err: rpc error: code = InvalidArgument desc = invalid method: method contains forbidden character: "a#b"',
        ],
        [
          '/v1.0/invoke/callee/method/a%0Ab',
          'failed to invoke, id: callee, err: rpc error: code = InvalidArgument desc = invalid method: method contains control character at position 1: "a\\nb"',
        ],
        ['/v1.0/invoke/a.b.c/method/x', 'failed to invoke, id: a.b.c, err: invalid app id a.b.c'],
      ];

      for (const [path, message] of cases) {
        const answer = await invoke('GET', path!);

        expect([path, answer.status]).toEqual([path, 500]);
        expect(JSON.parse(answer.text)).toEqual(directInvokeError(message!));
      }
      expect(calleeApp.received).toEqual([]);
    });
  });

  describe('what the callee app receives (§2.2)', () => {
    testKnownDifference(
      'caller-id-appended',
      'identity, forwarding and trace headers are set over caller copies; the app token replaces the API token',
      async () => {
        const answer = await invoke('POST', '/v1.0/invoke/callee/method/echo', {
          headers: {
            'dapr-caller-app-id': 'evil',
            'dapr-callee-app-id': 'evil',
            'x-forwarded-for': '6.6.6.6',
            'x-custom': 'kept',
          },
          body: 'hi',
        });

        expect(answer.status).toBe(200);
        const { headers } = calleeApp.received[0]!;
        expect(headers['dapr-caller-app-id']).toBe('caller');
        expect(headers['dapr-callee-app-id']).toBe('callee');
        expect(headers['dapr-caller-namespace']).toBeUndefined();
        expect(headers['dapr-api-token']).toBe(appApiToken);
        expect(headers['x-custom']).toBe('kept');
        expect(headers['x-forwarded-for']).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        expect(headers['x-forwarded-for']).not.toBe('6.6.6.6');
        expect(headers['x-forwarded-host']).toBe(os.hostname());
        const ip = headers['x-forwarded-for'];
        expect(headers.forwarded).toBe(`for=${ip};by=${ip};host=${os.hostname()}`);
        expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      },
    );

    test("the caller's traceparent is kept", async () => {
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

      await invoke('GET', '/v1.0/invoke/callee/method/echo', { headers: { traceparent } });

      expect(calleeApp.received[0]!.headers.traceparent).toBe(traceparent);
    });

    test('hop-by-hop headers are dropped; body, Content-Length and the absence of Content-Type pass unchanged', async () => {
      await invoke('POST', '/v1.0/invoke/callee/method/echo', {
        headers: {
          connection: 'keep-alive, x-hop',
          'x-hop': '1',
          'keep-alive': 'timeout=5',
          'proxy-authorization': 'Basic eDp5',
          te: 'trailers',
          'x-end-to-end': '1',
        },
        body: 'a,b',
      });
      await invoke('POST', '/v1.0/invoke/callee/method/echo', {
        headers: { 'content-type': 'text/csv' },
        body: 'a,b',
      });

      const [bare, typed] = calleeApp.received;
      expect(bare!.body).toBe('a,b');
      expect(bare!.headers['content-length']).toBe('3');
      expect(bare!.headers['content-type']).toBeUndefined();
      for (const name of ['x-hop', 'keep-alive', 'proxy-authorization', 'te']) {
        expect([name, bare!.headers[name]]).toEqual([name, undefined]);
      }
      expect(bare!.headers['x-end-to-end']).toBe('1');
      expect(typed!.headers['content-type']).toBe('text/csv');
    });

    test('a chunked upload streams through intact', async () => {
      const answer = await invoke('POST', '/v1.0/invoke/callee/method/upload', {
        chunks: ['part-1,', 'part-2'],
      });

      expect(answer.status).toBe(200);
      const [received] = calleeApp.received;
      expect(received!.body).toBe('part-1,part-2');
      expect(received!.headers['transfer-encoding']).toBe('chunked');
      expect(received!.headers['content-length']).toBeUndefined();
    });

    testKnownDifference(
      'broken-answer-completed',
      'an answer whose connection dies mid-body reaches the caller as a dropped connection',
      async () => {
        const outcome = await new Promise<{ status: number; complete: boolean; bytes: number }>(
          (resolve, reject) => {
            const request = http.get({
              host: '127.0.0.1',
              port: caller.httpPort,
              path: '/v1.0/invoke/callee/method/broken',
              headers: { 'dapr-api-token': apiToken },
              agent: false,
            });
            request.on('error', reject);
            request.on('response', (response) => {
              let bytes = 0;
              response.on('data', (chunk: Buffer) => (bytes += chunk.length));
              response.on('error', () => {});
              response.on('close', () =>
                resolve({ status: response.statusCode!, complete: response.complete, bytes }),
              );
            });
          },
        );

        expect(outcome).toEqual({ status: 200, complete: false, bytes: 5 });
      },
    );

    test('invoking your own app id goes straight to your app, without identity or forwarding headers', async () => {
      const answer = await invoke('GET', '/v1.0/invoke/caller/method/self?q=1');

      expect(answer.status).toBe(200);
      expect(calleeApp.received).toEqual([]);
      expect(callerApp.received).toHaveLength(1);
      const [received] = callerApp.received;
      expect(received!.url).toBe('/self?q=1');
      // daprd's invokeLocal skips what it adds for a remote call (direct_messaging.go).
      for (const name of [
        'dapr-caller-app-id',
        'dapr-caller-namespace',
        'dapr-callee-app-id',
        'x-forwarded-for',
        'x-forwarded-host',
        'forwarded',
      ]) {
        expect([name, received!.headers[name]]).toEqual([name, undefined]);
      }
      expect(received!.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      // The caller sidecar enforces DAPR_API_TOKEN and has no APP_API_TOKEN: no token at all.
      expect(received!.headers['dapr-api-token']).toBeUndefined();
    });
  });

  describe('what the caller gets back (§2.3)', () => {
    test('4xx and 5xx answers pass through verbatim: status, headers, body', async () => {
      for (const status of [404, 418, 500, 503]) {
        const answer = await invoke('GET', `/v1.0/invoke/callee/method/status/${status}`);

        expect(answer.status).toBe(status);
        expect(answer.headers['content-type']).toBe('application/json');
        expect(answer.headers['x-app']).toBe('callee');
        expect(answer.text).toBe(JSON.stringify({ status }));
      }
      expect(calleeApp.received).toHaveLength(4);
    });

    test('a redirect is passed back, not followed', async () => {
      const answer = await invoke('GET', '/v1.0/invoke/callee/method/redirect');

      expect(answer.status).toBe(302);
      expect(answer.headers.location).toBe('/elsewhere');
      expect(answer.text).toBe('moved');
      expect(calleeApp.callsTo('/elsewhere')).toEqual([]);
    });

    test('repeated headers survive', async () => {
      const answer = await invoke('GET', '/v1.0/invoke/callee/method/cookies');

      expect(answer.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    });

    testKnownDifference(
      'invoke-body-limit-500',
      'a body over 4 MiB is refused with 413',
      async () => {
        const answer = await invoke('POST', '/v1.0/invoke/callee/method/echo', {
          body: Buffer.alloc(4 * 1024 * 1024 + 1),
        });

        expect(answer.status).toBe(413);
        expect(calleeApp.received).toEqual([]);
      },
    );
  });

  describe('Dapr-side failures (§2.3, §2.5)', () => {
    test('when the callee app does not listen, 500 names the app channel and the refused connection', async () => {
      const goneApp = await startApp('gone', { closeConnections: true });
      const gone = await startSidecar({ appId: 'gone', appPort: goneApp.port });
      await gone.appReady;
      await goneApp.close();

      const answer = await invoke('POST', '/v1.0/invoke/gone/method/work');

      expect(answer.status).toBe(500);
      const address = `127.0.0.1:${goneApp.port}`;
      expect(JSON.parse(answer.text)).toEqual(
        directInvokeError(
          `failed to invoke, id: gone, err: rpc error: code = Internal desc = error invoking app channel: ` +
            `Post "http://${address}/work": dial tcp ${address}: connect: connection refused`,
        ),
      );
    });

    // These fake instances with rows in the dev sidecar's name registry: no daprd counterpart.
    describeDevOnly(
      'built-in service retries (DaprBuiltInServiceRetries overridden to 100 ms)',
      () => {
        let fast: TestSidecar;
        let database: pg.Client;

        beforeAll(async () => {
          // maxRetries 1 is floored to daprd's 3.
          fast = await startSidecar({
            appId: 'caller',
            resources: resiliency(
              '{ retries: { DaprBuiltInServiceRetries: { policy: constant, duration: 100ms, maxRetries: 1 } } }',
            ),
          });
          database = new pg.Client({ connectionString: callee.databaseUrl });
          await database.connect();
        });

        afterAll(async () => {
          await database?.end();
        });

        /** A registry row for an app whose sidecar we fake (fresh for 3 s). */
        const register = (appId: string, port: number) =>
          database.query(
            `insert into sidecar_instances (namespace, app_id, instance_id, host, internal_port, updated_at)
           values ('default', $1, $1 || '-0', '127.0.0.1', $2, now())`,
            [appId, port],
          );

        test('with no live instance, answers 500 after 3 retries 100 ms apart', async () => {
          const started = performance.now();

          const answer = await call(fast.httpPort, 'GET', '/v1.0/invoke/nobody/method/x');

          expect(answer.status).toBe(500);
          expect(JSON.parse(answer.text)).toEqual(
            directInvokeError(
              "failed to invoke, id: nobody, err: failed to invoke target nobody after 3 retries. Error: couldn't find service: nobody",
            ),
          );
          expect(performance.now() - started).toBeGreaterThanOrEqual(300);
        });

        test('a registered sidecar that refuses connections: 500 with the dial error after the retries', async () => {
          const port = await freePort();
          await register('refusing', port);

          const answer = await call(fast.httpPort, 'GET', '/v1.0/invoke/refusing/method/x');

          expect(answer.status).toBe(500);
          expect(JSON.parse(answer.text)).toEqual(
            directInvokeError(
              'failed to invoke, id: refusing, err: failed to invoke target refusing after 3 retries. Error: ' +
                'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: ' +
                `dial tcp 127.0.0.1:${port}: connect: connection refused"`,
            ),
          );
        });

        test('a sidecar that drops every connection is tried 4 times, re-resolved each time', async () => {
          let connections = 0;
          const dropper = net.createServer((socket) => {
            connections += 1;
            socket.destroy();
          });
          await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
          others.push({ close: () => new Promise((resolve) => dropper.close(() => resolve())) });
          await register('dropping', (dropper.address() as net.AddressInfo).port);

          const answer = await call(fast.httpPort, 'POST', '/v1.0/invoke/dropping/method/x', {
            body: 'payload',
          });

          expect(answer.status).toBe(500);
          const { errorCode, message } = JSON.parse(answer.text);
          expect(errorCode).toBe('ERR_DIRECT_INVOKE');
          expect(message).toMatch(
            /^failed to invoke, id: dropping, err: failed to invoke target dropping after 3 retries\. Error: rpc error: code = Unavailable desc = /,
          );
          expect(connections).toBe(4);
        });
      },
    );
  });

  describe('resiliency policies on the caller (§2.6)', () => {
    test('a timeout fails the call with context deadline exceeded and drops the call to the app', async () => {
      const timed = await startSidecar({
        appId: 'caller',
        resources: resiliency('{ timeouts: { quick: 150ms } }', '{ timeout: quick }'),
      });

      const answer = await call(timed.httpPort, 'GET', '/v1.0/invoke/callee/method/slow');

      expect(answer.status).toBe(500);
      const { errorCode, message } = JSON.parse(answer.text);
      expect(errorCode).toBe('ERR_DIRECT_INVOKE');
      // daprd now and then reports the same deadline as its gRPC stream's cancellation, when the
      // stream notices first; the dev sidecar always gives the usual wording.
      expect(message).toMatch(
        sidecarTarget === 'daprd'
          ? /^failed to invoke, id: callee, err: (context deadline exceeded|rpc error: code = DeadlineExceeded desc = .+)$/
          : /^failed to invoke, id: callee, err: context deadline exceeded$/,
      );
      const dropped = await waitUntil(() => calleeApp.callsTo('/slow')[0]?.aborted === true, 2000);
      expect(dropped).toBe(true);
    });

    test('a retry policy matching 503 retries it, then returns the last answer verbatim; 500 is not retried', async () => {
      const retrying = await startSidecar({
        appId: 'caller',
        resources: resiliency(
          '{ retries: { twice: { policy: constant, duration: 10ms, maxRetries: 2, matching: { httpStatusCodes: "503" } } } }',
          '{ retry: twice }',
        ),
      });

      const unavailable = await call(
        retrying.httpPort,
        'GET',
        '/v1.0/invoke/callee/method/status/503',
      );
      const failed = await call(retrying.httpPort, 'GET', '/v1.0/invoke/callee/method/status/500');

      expect(unavailable.status).toBe(503);
      expect(unavailable.text).toBe('{"status":503}');
      expect(unavailable.headers['x-app']).toBe('callee');
      expect(calleeApp.callsTo('/status/503')).toHaveLength(3);
      expect(failed.status).toBe(500);
      expect(calleeApp.callsTo('/status/500')).toHaveLength(1);
    });

    test('an open circuit breaker fails fast, per method', async () => {
      const guarded = await startSidecar({
        appId: 'caller',
        resources: resiliency(
          '{ circuitBreakers: { cb: { trip: "consecutiveFailures > 1", timeout: 60s } } }',
          '{ circuitBreaker: cb }',
        ),
      });
      const get = (method: string) =>
        call(guarded.httpPort, 'GET', `/v1.0/invoke/callee/method/${method}`);

      const first = await get('status/500');
      const second = await get('status/500');
      const third = await get('status/500');
      const other = await get('echo');

      expect([first.status, second.status]).toEqual([500, 500]);
      expect(second.text).toBe('{"status":500}');
      expect(third.status).toBe(500);
      expect(JSON.parse(third.text)).toEqual(
        directInvokeError('failed to invoke, id: callee, err: circuit breaker is open'),
      );
      expect(calleeApp.callsTo('/status/500')).toHaveLength(2);
      expect(other.status).toBe(200);
    });
  });

  describe('access control on the callee (Configuration accessControl)', () => {
    const denied = (operation: string, verb: string) =>
      directInvokeError(
        'failed to invoke, id: callee, err: rpc error: code = PermissionDenied desc = access control policy has denied access to ' +
          `id: spiffe://public/ns/default/caller operation: ${operation} verb: ${verb}`,
      );

    testKnownDifference(
      'acl-needs-mtls',
      'a denied operation answers 403 ERR_DIRECT_INVOKE and never reaches the app',
      async () => {
        const admin = await invoke('POST', '/v1.0/invoke/callee/method/admin/users/7', {
          body: 'x',
        });
        const deleteOrder = await invoke('DELETE', '/v1.0/invoke/callee/method/orders/1');

        expect(admin.status).toBe(403);
        expect(JSON.parse(admin.text)).toEqual(denied('admin/users/7', 'POST'));
        expect(deleteOrder.status).toBe(403);
        expect(JSON.parse(deleteOrder.text)).toEqual(denied('orders/1', 'DELETE'));
        expect(calleeApp.received).toEqual([]);
      },
    );

    test('other verbs, and paths deeper than a single *, are allowed', async () => {
      const read = await invoke('GET', '/v1.0/invoke/callee/method/orders/1');
      const deleteLine = await invoke('DELETE', '/v1.0/invoke/callee/method/orders/1/lines');

      expect([read.status, deleteLine.status]).toEqual([200, 200]);
      expect(calleeApp.received.map(({ url }) => url)).toEqual(['/orders/1', '/orders/1/lines']);
    });
  });

  test('calls spread across the live instances of an app', async () => {
    const apps = [await startApp('replica-a'), await startApp('replica-b')];
    const replicas = await Promise.all(
      apps.map((app) => startSidecar({ appId: 'replicated', appPort: app.port })),
    );
    await Promise.all(replicas.map((replica) => replica.appReady));

    for (let i = 0; i < 40; i++) {
      expect((await invoke('GET', `/v1.0/invoke/replicated/method/echo`)).status).toBe(200);
    }

    const counts = apps.map((app) => app.callsTo('/echo').length);
    expect(counts[0]! + counts[1]!).toBe(40);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
  });

  describe('through @dapr/dapr DaprClient (HTTP)', () => {
    let client: DaprClient;

    beforeAll(() => {
      client = createSdkClient(caller, apiToken);
    });

    afterAll(async () => {
      await client?.stop();
    });

    test('invoker.invoke resolves with the parsed answer of the app', async () => {
      const answer = (await client.invoker.invoke('callee', 'echo/sdk?x=1', HttpMethod.POST, {
        a: 1,
      })) as {
        app: string;
        method: string;
        url: string;
        body: string;
        headers: IncomingHttpHeaders;
      };

      expect(answer).toMatchObject({
        app: 'callee',
        method: 'POST',
        url: '/echo/sdk?x=1',
        body: '{"a":1}',
      });
      expect(answer.headers['content-type']).toBe('application/json');
      expect(answer.headers['dapr-caller-app-id']).toBe('caller');
    });

    test('an app 404 rejects with the JSON message {error, error_msg, status}', async () => {
      const failure = await client.invoker.invoke('callee', 'status/404', HttpMethod.GET).then(
        () => undefined,
        (error: Error) => error,
      );

      expect(failure).toBeInstanceOf(Error);
      expect(JSON.parse(failure!.message)).toEqual({
        error: 'Not Found',
        error_msg: '{"status":404}',
        status: 404,
      });
    });
  });
});
