import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { startRecordingApp, type RecordingApp } from './fixtures/invocation-app.ts';
import { startTestSidecar, testInternalToken, type TestSidecar } from './harness.ts';

// The sidecar-to-sidecar hop (daprd's internal port, mTLS there): any local process can reach the
// internal port, so only callers holding the stack's secret get through; with it, the callee
// cleans the method before its ACL and its app see it.

const appApiToken = 'app-token-that-authenticates-deliveries';
const tokenHeader = 'x-sidecart-internal-token';

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
`;

// The built-in retries at 100 ms, so a refused caller gives up quickly.
const fastRetries = `
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: { name: fast }
spec:
  policies:
    retries:
      DaprBuiltInServiceRetries: { policy: constant, duration: 100ms, maxRetries: 3 }
  targets: {}
`;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A raw HTTP call: no client-side path normalisation, only the given headers. */
function call(port: number, method: string, path: string, headers: OutgoingHttpHeaders) {
  return new Promise<Answer>((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method, path, headers, agent: false },
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
    request.end(method === 'POST' ? JSON.stringify({ id: 'forged-event' }) : undefined);
  });
}

describe('sidecar-to-sidecar calls are authenticated', () => {
  let calleeApp: RecordingApp;
  let callee: TestSidecar;
  let caller: TestSidecar;
  let stranger: TestSidecar;

  /** What a process posing as the sidecar of app `caller` sends to the callee's internal port. */
  const forged = (path: string, extra: OutgoingHttpHeaders = {}) =>
    call(callee.internalPort, 'POST', path, {
      'content-type': 'application/json',
      'dapr-caller-app-id': 'caller',
      'dapr-callee-app-id': 'callee',
      ...extra,
    });

  beforeAll(async () => {
    calleeApp = await startRecordingApp('callee');
    callee = await startTestSidecar({
      appId: 'callee',
      appPort: calleeApp.port,
      appApiToken,
      resources: calleeConfiguration,
    });
    caller = await startTestSidecar({ appId: 'caller', databaseUrl: callee.databaseUrl });
    stranger = await startTestSidecar({
      appId: 'stranger',
      databaseUrl: callee.databaseUrl,
      internalToken: 'the-secret-of-another-stack',
      resources: fastRetries,
    });
    await callee.appReady;
  });

  beforeEach(() => {
    calleeApp.received.length = 0;
  });

  afterAll(async () => {
    await stranger?.close();
    await caller?.close();
    await callee?.close();
    await calleeApp?.close();
  });

  test('a forged caller identity without the secret is refused and never reaches the app', async () => {
    const answer = await forged('/events/user-registered');

    expect(answer.status).toBe(401);
    expect(answer.headers['x-sidecart-invoke-failure']).toBe('Unauthenticated');
    expect(answer.text).not.toContain('callee');
    expect(calleeApp.received).toEqual([]);
  });

  test('a wrong secret is refused the same way, whatever its length', async () => {
    const sameLength = testInternalToken.replace(/.$/, (last) => (last === 'x' ? 'y' : 'x'));
    for (const token of [sameLength, 'short', `${testInternalToken}-longer`]) {
      const answer = await forged('/events/user-registered', { [tokenHeader]: token });

      expect(answer.status).toBe(401);
    }
    expect(calleeApp.received).toEqual([]);
  });

  test("the caller sidecar's calls get through, and the app never sees the secret", async () => {
    const answer = await call(caller.httpPort, 'POST', '/v1.0/invoke/callee/method/orders', {
      'content-type': 'application/json',
      // An app cannot choose the secret its sidecar sends.
      [tokenHeader]: 'chosen-by-the-app',
    });

    expect(answer.status).toBe(200);
    expect(calleeApp.received).toHaveLength(1);
    const [received] = calleeApp.received;
    expect(received!.headers[tokenHeader]).toBeUndefined();
    expect(received!.headers['dapr-caller-app-id']).toBe('caller');
    expect(received!.headers['dapr-api-token']).toBe(appApiToken);
  });

  test("a sidecar with another stack's secret fails like an unreachable one, after the built-in retries", async () => {
    const answer = await call(stranger.httpPort, 'POST', '/v1.0/invoke/callee/method/orders', {
      'content-type': 'application/json',
    });

    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.text)).toEqual({
      errorCode: 'ERR_DIRECT_INVOKE',
      message: expect.stringMatching(
        /^failed to invoke, id: callee, err: failed to invoke target callee after 3 retries\. Error: rpc error: code = Unauthenticated/,
      ),
    });
    expect(calleeApp.received).toEqual([]);
  });

  test('with the secret, dot segments cannot walk past the ACL', async () => {
    const answer = await forged('/public/../admin/users', { [tokenHeader]: testInternalToken });

    expect(answer.status).toBe(403);
    expect(answer.headers['x-sidecart-invoke-failure']).toBe('PermissionDenied');
    expect(answer.text).toContain('operation: admin/users verb: POST');
    expect(calleeApp.received).toEqual([]);
  });

  test('with the secret, the app gets the cleaned method and the query unchanged', async () => {
    const answer = await forged('/public//x/./y/?a=1&b=%2F', { [tokenHeader]: testInternalToken });

    expect(answer.status).toBe(200);
    expect(calleeApp.received.map((received) => received.url)).toEqual(['/public/x/y?a=1&b=%2F']);
  });

  test('with the secret, control characters in the method are refused', async () => {
    const answer = await forged('/public/%0d%0aadmin', { [tokenHeader]: testInternalToken });

    expect(answer.status).toBe(400);
    expect(answer.headers['x-sidecart-invoke-failure']).toBe('InvalidArgument');
    expect(calleeApp.received).toEqual([]);
  });
});
