import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { OutboxEvent, startOutboxRelay } from '@sidecart/chassis';
import { eventually, silentLogger } from '@sidecart/chassis/testing';
import { parseEvent } from '@sidecart/contracts';
import { call, logInAsAdmin, newUser, signUp, startAuth, type AuthUnderTest } from './support.ts';

let auth: AuthUnderTest;
let adminToken: string;
beforeAll(async () => {
  auth = await startAuth();
  adminToken = (await logInAsAdmin(auth.url)).body.accessToken;
});
afterAll(() => auth.close());

/** The outbox rows of one topic whose data matches `where` (e.g. the user's id). */
async function outboxRows(topic: string, where: Record<string, unknown>) {
  const rows = await auth.em().find(OutboxEvent, { topic }, { orderBy: { createdAt: 'asc' } });
  return rows.filter((row) =>
    Object.entries(where).every(
      ([key, value]) => (row.data as Record<string, unknown>)[key] === value,
    ),
  );
}

describe('user-registered', () => {
  test('POST /register records exactly one, valid against the contract, with the trace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const user = newUser({ accountType: 'seller' });

    const response = await call(auth.url, 'POST', '/api/auth/register', {
      body: user,
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });

    expect(response.status).toBe(201);
    const rows = await outboxRows('user-registered', { userId: response.body.id });
    expect(rows).toHaveLength(1);
    const parsed = parseEvent('user-registered', rows[0]!.data);
    expect(parsed).toEqual({
      ok: true,
      topic: 'user-registered',
      data: {
        userId: response.body.id,
        email: user.email,
        name: user.name,
        accountType: 'seller',
        roles: ['customer', 'seller'],
        occurredAt: response.body.createdAt,
      },
    });
    expect(rows[0]!.data).toEqual(parsed.ok && parsed.data);
    expect(rows[0]!.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(rows[0]!.publishedAt).toBeNull();
  });

  test('of 8 concurrent registrations of one email, only the one that succeeds records it', async () => {
    const user = newUser();

    const responses = await Promise.all(
      Array.from({ length: 8 }, () => call(auth.url, 'POST', '/api/auth/register', { body: user })),
    );

    expect(responses.map((response) => response.status).sort()).toEqual([
      201, 409, 409, 409, 409, 409, 409, 409,
    ]);
    const created = responses.find((response) => response.status === 201)!;
    const rows = await outboxRows('user-registered', { email: user.email });
    expect(rows.map((row) => (row.data as { userId: string }).userId)).toEqual([created.body.id]);
  });
});

describe('user-deleted', () => {
  test('DELETE /users/:id records one with the roles the user had', async () => {
    const seller = await signUp(auth.url, { accountType: 'seller' });

    const response = await call(auth.url, 'DELETE', `/api/auth/users/${seller.id}`, {
      token: adminToken,
    });

    expect(response.status).toBe(204);
    const rows = await outboxRows('user-deleted', { userId: seller.id });
    expect(rows).toHaveLength(1);
    const parsed = parseEvent('user-deleted', rows[0]!.data);
    expect(parsed).toEqual({
      ok: true,
      topic: 'user-deleted',
      data: { userId: seller.id, roles: ['customer', 'seller'], occurredAt: expect.any(String) },
    });
  });

  test('a refused or missing deletion records none', async () => {
    const me = await call(auth.url, 'GET', '/api/auth/me', { token: adminToken });
    const missing = '0192f1e4-7f6a-7cc0-8a47-8e5b2d3c4f50';

    const own = await call(auth.url, 'DELETE', `/api/auth/users/${me.body.id}`, {
      token: adminToken,
    });
    const unknown = await call(auth.url, 'DELETE', `/api/auth/users/${missing}`, {
      token: adminToken,
    });

    expect([own.status, unknown.status]).toEqual([409, 404]);
    expect(await outboxRows('user-deleted', { userId: me.body.id })).toEqual([]);
    expect(await outboxRows('user-deleted', { userId: missing })).toEqual([]);
  });
});

describe('the outbox relay', () => {
  test('publishes a registration right after its commit, with the outbox id as the event id', async () => {
    const published: { id: string; topic: string; data: unknown }[] = [];
    // A long poll interval: only the nudge after the commit can publish within the deadline.
    const relay = startOutboxRelay({
      orm: auth.orm,
      logger: silentLogger(),
      intervalMs: 60_000,
      publish: async ({ id, topic, data }) => void published.push({ id, topic, data }),
    });
    try {
      await eventually('the backlog to be published', async () => {
        return (await auth.em().count(OutboxEvent, { publishedAt: null })) === 0;
      });

      const user = await signUp(auth.url);
      const sent = await eventually('the registration to be published', () =>
        published.find((event) => (event.data as { userId: string }).userId === user.id),
      );

      const [row] = await outboxRows('user-registered', { userId: user.id });
      expect(sent).toEqual({ id: row!.id, topic: 'user-registered', data: row!.data });
    } finally {
      await relay.stop();
    }
  });
});
