import { describe, expect, test } from '@jest/globals';
import { compileAccessControl } from '../../src/sidecar/invocation/access-control.ts';

// The callee's ACL as daprd's pkg/acl reads it; the HTTP behaviour is in invocation.test.ts.
describe('invocation access control', () => {
  const deny = compileAccessControl({
    defaultAction: 'deny',
    trustDomain: 'public',
    policies: [
      {
        appId: 'orders',
        namespace: 'sidecart',
        trustDomain: 'public',
        defaultAction: 'deny',
        operations: [{ name: '/internal/**', httpVerb: ['POST'], action: 'allow' }],
      },
    ],
  });
  const call = (callerNamespace: string, verb = 'POST') => ({
    callerAppId: 'orders',
    callerNamespace,
    operation: 'internal/reservations',
    verb,
  });

  test('a policy applies to callers of its namespace', () => {
    expect(deny(call('sidecart'))).toBeUndefined();
    expect(deny(call('sidecart', 'GET'))).toBe(
      'access control policy has denied access to id: spiffe://public/ns/sidecart/orders operation: internal/reservations verb: GET',
    );
  });

  test('the same app id from another namespace gets the global default (deny)', () => {
    expect(deny(call('default'))).toBe(
      'access control policy has denied access to id: spiffe://public/ns/default/orders operation: internal/reservations verb: POST',
    );
  });
});
