import { createHash } from 'node:crypto';
import type { BlockList } from 'node:net';
import type { Context, Middleware } from 'koa';
import type { MikroORM } from '@mikro-orm/postgresql';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { clientAddress, trustedProxies } from './client-address.ts';
import { rateLimitTable } from './rate-limit.migration.ts';

/** One limit: at most `limit` requests (or failures) per key in `windowSeconds`. */
export interface RateLimitRule {
  /** Names the policy in the RateLimit headers and prefixes its counters; unique per service. */
  name: string;
  limit: number;
  windowSeconds: number;
  /** Once the limit is passed, refuse for this long (default: until the window ends). */
  blockSeconds?: number;
  /** Whose counter the request moves; undefined leaves the rule out for this request. */
  key: (ctx: Context) => string | undefined | Promise<string | undefined>;
  /** `failures`: a successful answer (< 400) gives its point back, so only failures count. */
  count?: 'requests' | 'failures';
  /** With `count: 'failures'`: a success clears the key's counter (a good login forgives typos). */
  resetOnSuccess?: boolean;
}

export interface RateLimitsOptions {
  logger?: Logger;
}

export interface RateLimits {
  /** Middleware that applies the rules in order; the first one exhausted answers 429. */
  limit(...rules: RateLimitRule[]): Middleware;
}

interface Counter {
  rule: RateLimitRule;
  limiter: RateLimiterPostgres;
}

/**
 * Rate limits shared by every replica of a service (rate-limiter-flexible, counters in the
 * service's own database: add `rateLimitMigrations` to its migrations).
 */
export function createRateLimits(orm: MikroORM, options: RateLimitsOptions = {}): RateLimits {
  return {
    limit(...rules) {
      let counters: Promise<Counter[]> | undefined;
      // The ORM's own pool (with its broken-connection eviction); known only once it connected.
      const countersFor = () =>
        orm.em
          .getConnection()
          .getNativeClient()
          .then((pool) => rules.map((rule) => counterFor(pool, rule)))
          .catch((error: unknown) => {
            counters = undefined;
            throw error;
          });
      return async (ctx, next) => {
        counters ??= countersFor();
        await applyRules(ctx, await counters, next, options.logger);
      };
    },
  };
}

function counterFor(pool: unknown, rule: RateLimitRule): Counter {
  const settings = {
    keyPrefix: rule.name,
    points: rule.limit,
    duration: rule.windowSeconds,
    blockDuration: rule.blockSeconds ?? 0,
  };
  const limiter = new RateLimiterPostgres({
    ...settings,
    storeClient: pool,
    storeType: 'pool',
    tableName: rateLimitTable,
    tableCreated: true,
    // While the database is unreachable each replica still counts on its own.
    insuranceLimiter: new RateLimiterMemory(settings),
  });
  return { rule, limiter };
}

interface Admitted {
  counter: Counter;
  key: string;
  state: RateLimiterRes;
}

async function applyRules(
  ctx: Context,
  counters: Counter[],
  next: () => Promise<unknown>,
  log?: Logger,
) {
  const admitted: Admitted[] = [];
  // In order, stopping at the first refusal: a request the address limit refuses never counts
  // against the account it named, so one flooding client cannot lock the owner out that way.
  for (const counter of counters) {
    const rawKey = await counter.rule.key(ctx);
    if (rawKey === undefined) continue;
    const key = storageKey(rawKey);
    try {
      admitted.push({ counter, key, state: await counter.limiter.consume(key) });
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      setHeaders(ctx, [...admitted, { counter, key, state: refusal }]);
      throw tooManyRequests(counter.rule, refusal);
    }
  }
  setHeaders(ctx, admitted);
  let succeeded = false;
  try {
    await next();
    succeeded = ctx.status < 400;
  } finally {
    if (succeeded) await forgive(admitted, log);
  }
}

async function forgive(admitted: Admitted[], log?: Logger) {
  const failuresOnly = admitted.filter(({ counter }) => counter.rule.count === 'failures');
  await Promise.all(
    failuresOnly.map(async ({ counter, key }) => {
      try {
        if (counter.rule.resetOnSuccess) await counter.limiter.delete(key);
        else await counter.limiter.reward(key, 1);
      } catch (error) {
        // The request succeeded; a counter left one point high is not worth failing it for.
        log?.warn({ err: error, policy: counter.rule.name }, 'rate limit not refunded');
      }
    }),
  );
}

/** Keys are stored hashed: they fit the varchar(255) and no email or address is kept at rest. */
const storageKey = (key: string) => createHash('sha256').update(key).digest('base64url');

const secondsUntil = (state: RateLimiterRes) => Math.max(1, Math.ceil(state.msBeforeNext / 1000));

/** The IETF draft's fields (draft-ietf-httpapi-ratelimit-headers): the policies, then their state. */
function setHeaders(ctx: Context, applied: Admitted[]) {
  if (applied.length === 0) return;
  ctx.set(
    'RateLimit-Policy',
    applied
      .map(({ counter: { rule } }) => `"${rule.name}";q=${rule.limit};w=${rule.windowSeconds}`)
      .join(', '),
  );
  ctx.set(
    'RateLimit',
    applied
      .map(
        ({ counter: { rule }, state }) =>
          `"${rule.name}";r=${state.remainingPoints};t=${secondsUntil(state)}`,
      )
      .join(', '),
  );
}

function tooManyRequests(rule: RateLimitRule, state: RateLimiterRes): AppError {
  const seconds = secondsUntil(state);
  return new AppError(429, 'rate-limited', `Too many requests; try again in ${seconds} s`, {
    headers: { 'Retry-After': String(seconds) },
    extensions: { policy: rule.name, retryAfterSeconds: seconds },
  });
}

/**
 * A limit in configuration: `limit/windowSeconds[/blockSeconds]`, e.g. `RATE_LIMIT_X=5/900/900`
 * (5 per 15 minutes, then 15 minutes refused).
 */
export const rateLimitSetting = z
  .string()
  .regex(
    /^\d{1,9}\/\d{1,9}(\/\d{1,9})?$/,
    'expected limit/windowSeconds[/blockSeconds], e.g. 5/900/900',
  )
  .transform((value) => {
    const [limit, windowSeconds, blockSeconds] = value.split('/').map(Number);
    return { limit: limit!, windowSeconds: windowSeconds!, blockSeconds };
  })
  .refine(
    (setting) => setting.limit >= 1 && setting.windowSeconds >= 1,
    'limit and window must be ≥ 1',
  );

/** Trusted proxies in configuration: comma-separated CIDRs or addresses (`TRUSTED_PROXIES`). */
export const trustedProxiesSetting = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((cidr) => cidr.trim())
      .filter(Boolean),
  )
  .refine((cidrs) => {
    try {
      trustedProxies(cidrs);
      return true;
    } catch {
      return false;
    }
  }, 'expected comma-separated IP addresses or CIDRs, e.g. 127.0.0.1/8,10.42.0.0/16');

/** Keys a rule by the client's address (X-Forwarded-For only from `proxies`, loopback by default). */
export function byClientAddress(proxies?: string[]): (ctx: Context) => string {
  const trusted: BlockList = trustedProxies(proxies);
  return (ctx) => clientAddress(ctx, trusted);
}

/** Keys a rule by the signed-in user (after requireUser); anonymous requests are left out. */
export const byUser = (ctx: Context): string | undefined => ctx.state.user?.id;
