import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  conflict,
  notFound,
  preconditionFailed,
  recordEvent,
  type Logger,
} from '@sidecart/chassis';
import { events } from '@sidecart/contracts';
import { hashPassword } from '../sessions/passwords.ts';
import { rolesFor, User, type Role } from './user.entity.ts';
import type { listUsersQuery, registerBody } from './users.schemas.ts';
import type { z } from 'zod';

/** Creates the user and records `user-registered` in the same transaction. */
export async function registerUser(
  em: EntityManager,
  input: z.output<typeof registerBody>,
  traceparent?: string,
) {
  const passwordHash = await hashPassword(input.password);
  try {
    return await em.transactional(async (tx) => {
      const user = tx.create(User, {
        email: input.email,
        name: input.name,
        passwordHash,
        roles: rolesFor(input.accountType),
        accountType: input.accountType,
      });
      await tx.flush(); // assigns the id and creation time the event carries
      recordEvent(tx, {
        topic: 'user-registered',
        schema: events['user-registered'],
        data: {
          userId: user.id,
          email: user.email,
          name: user.name,
          accountType: user.accountType,
          roles: user.roles,
          occurredAt: user.createdAt.toISOString(),
        },
        traceparent,
      });
      return user;
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      throw conflict('email-taken', 'An account with this email exists already');
    }
    throw error;
  }
}

export async function findUser(em: EntityManager, id: string) {
  const user = await em.findOne(User, { id });
  if (!user) throw notFound('user', id);
  return user;
}

export async function listUsers(em: EntityManager, query: z.output<typeof listUsersQuery>) {
  const items = await em.find(
    User,
    {
      ...(query.cursor ? { id: { $gt: query.cursor } } : {}),
      ...(query.email ? { email: query.email } : {}),
    },
    { orderBy: { id: 'asc' }, limit: query.limit + 1 },
  );
  const page = items.slice(0, query.limit);
  return { items: page, nextCursor: items.length > query.limit ? page.at(-1)!.id : null };
}

/**
 * Replaces a user's roles; `expectedVersion` is the version the admin saw (optimistic lock), or
 * undefined for `If-Match: *`. The row is read `FOR UPDATE` in the same transaction as the write,
 * so `*` applies to whatever version is current instead of losing a race to a concurrent writer.
 */
export async function changeRoles(
  em: EntityManager,
  params: { id: string; roles: Role[]; expectedVersion: number | undefined; actorId: string },
) {
  return em.transactional(async (tx) => {
    const user = await tx.findOne(
      User,
      { id: params.id },
      { lockMode: LockMode.PESSIMISTIC_WRITE },
    );
    if (!user) throw notFound('user', params.id);
    if (params.expectedVersion !== undefined && params.expectedVersion !== user.version) {
      throw preconditionFailed('The user was changed since you read it', {
        extensions: { currentVersion: user.version },
      });
    }
    user.changeRoles(params.roles, params.actorId);
    return user;
  });
}

/** Removes the user (sessions cascade) and records `user-deleted` in the same transaction. */
export async function deleteUser(
  em: EntityManager,
  id: string,
  actorId: string,
  traceparent?: string,
) {
  if (id === actorId) throw conflict('own-account', 'You cannot delete your own account');
  const user = await findUser(em, id);
  em.remove(user);
  recordEvent(em, {
    topic: 'user-deleted',
    schema: events['user-deleted'],
    data: { userId: user.id, roles: user.roles, occurredAt: new Date().toISOString() },
    traceparent,
  });
  await em.flush();
}

/** The first admin comes from configuration, never from self-registration. */
export async function ensureAdmin(em: EntityManager, email: string, password: string, log: Logger) {
  const existing = await em.findOne(User, { email });
  if (existing) {
    if (!existing.hasRole('admin'))
      log.warn({ email }, 'ADMIN_EMAIL belongs to a non-admin user; left as is');
    return;
  }
  try {
    em.create(User, {
      email,
      name: 'Administrator',
      passwordHash: await hashPassword(password),
      roles: ['admin'],
      accountType: 'customer',
    });
    await em.flush();
    log.info({ email }, 'created the first admin');
  } catch (error) {
    // Another replica created it at the same moment.
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
  }
}
