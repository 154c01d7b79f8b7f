import Router from '@koa/router';
import {
  currentUser,
  etagOf,
  requireIfMatch,
  requireRole,
  requireUser,
  unauthorized,
  type MikroORM,
  type TokenVerifier,
} from '@sidecart/chassis';
import type { AuthRateLimits } from '../rate-limits.ts';
import { toUserDto, User } from './user.entity.ts';
import { listUsersQuery, parseUserId, registerBody, updateUserBody } from './users.schemas.ts';
import { changeRoles, deleteUser, findUser, listUsers, registerUser } from './users.use-cases.ts';

export function usersRoutes(orm: MikroORM, verify: TokenVerifier, limits: AuthRateLimits): Router {
  const em = () => orm.em;
  const router = new Router({ prefix: '/api/auth' });
  const signedIn = requireUser(verify);
  const admin = [signedIn, requireRole('admin')];

  router.post('/register', limits.register, async (ctx) => {
    const input = registerBody.parse(ctx.request.body);
    const user = await registerUser(em(), input, ctx.state.traceparent);
    ctx.status = 201;
    ctx.set('location', `/api/auth/users/${user.id}`);
    ctx.body = toUserDto(user);
  });

  router.get('/me', signedIn, async (ctx) => {
    const user = await em().findOne(User, { id: currentUser(ctx.state).id });
    if (!user) throw unauthorized('invalid-token', 'The account of this token no longer exists');
    ctx.body = toUserDto(user);
  });

  router.get('/users', ...admin, async (ctx) => {
    const page = await listUsers(em(), listUsersQuery.parse(ctx.query));
    ctx.body = { items: page.items.map(toUserDto), nextCursor: page.nextCursor };
  });

  router.get('/users/:id', ...admin, async (ctx) => {
    const user = await findUser(em(), parseUserId(ctx.params.id));
    ctx.set('etag', etagOf(user.version));
    ctx.body = toUserDto(user);
  });

  router.patch('/users/:id', ...admin, async (ctx) => {
    const expectedVersion = requireIfMatch(ctx);
    const { roles } = updateUserBody.parse(ctx.request.body);
    const id = parseUserId(ctx.params.id);
    const user = await changeRoles(em(), {
      id,
      roles,
      expectedVersion,
      actorId: currentUser(ctx.state).id,
    });
    ctx.set('etag', etagOf(user.version));
    ctx.body = toUserDto(user);
  });

  router.delete('/users/:id', ...admin, async (ctx) => {
    const id = parseUserId(ctx.params.id);
    await deleteUser(em(), id, currentUser(ctx.state).id, ctx.state.traceparent);
    ctx.status = 204;
  });

  return router;
}
