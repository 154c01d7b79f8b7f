import type { Handler, Route } from './api.ts';

/** Go's url.QueryUnescape, as daprd applies it to every route parameter (docs/dapr-behaviour.md §1). */
export function queryUnescape(text: string): string {
  const invalid = /%(?![0-9a-fA-F]{2})/.exec(text);
  if (invalid) {
    throw new BadEscapeError(
      `invalid URL escape "${text.slice(invalid.index, invalid.index + 3)}"`,
    );
  }
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    // Valid escapes that are not UTF-8 (`%FF`): Go would keep the bytes; a string key cannot.
    throw new BadEscapeError(`invalid URL escape: not UTF-8 in "${text}"`);
  }
}

export class BadEscapeError extends Error {}

/** Double slashes collapsed; the trailing slash is handled by the router (tried without it). */
export const cleanPath = (path: string): string => path.replace(/\/{2,}/g, '/');

interface CompiledRoute {
  methods: Set<string>;
  segments: { literal?: string; param?: string; rest?: boolean }[];
  handler: Handler;
}

export interface RouteMatch {
  handler: Handler;
  params: Record<string, string>;
}

/**
 * The Dapr API route table. A path no route claims, or a claimed path with the wrong verb, is not
 * an error here: the caller hands it to service invocation, like daprd's NotFound and
 * MethodNotAllowed handlers (docs/dapr-behaviour.md §1 "Fallback route").
 */
export class Router {
  readonly #routes: CompiledRoute[];

  constructor(routes: Route[]) {
    this.#routes = routes.map((route) => ({
      methods: new Set(route.methods),
      handler: route.handler,
      segments: route.pattern
        .split('/')
        .filter(Boolean)
        .map((segment) => {
          const param = /^\{(\w+)(\.\.\.)?\}$/.exec(segment);
          if (!param) return { literal: segment };
          return { param: param[1], rest: Boolean(param[2]) };
        }),
    }));
  }

  /** Throws BadEscapeError for a malformed %-escape in a parameter. */
  match(method: string, path: string): RouteMatch | undefined {
    const found = this.#match(method, path);
    if (found || !path.endsWith('/') || path === '/') return found;
    return this.#match(method, path.replace(/\/+$/, ''));
  }

  #match(method: string, path: string): RouteMatch | undefined {
    const parts = path.split('/').slice(1);
    for (const route of this.#routes) {
      if (!route.methods.has(method)) continue;
      const params = matchSegments(route.segments, parts);
      if (params) return { handler: route.handler, params };
    }
    return undefined;
  }
}

function matchSegments(
  segments: CompiledRoute['segments'],
  parts: string[],
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [index, segment] of segments.entries()) {
    if (segment.rest) {
      const rest = parts.slice(index);
      if (rest.length === 0 || rest[0] === '') return undefined;
      params[segment.param!] = rest.map(queryUnescape).join('/');
      return params;
    }
    const part = parts[index];
    if (part === undefined) return undefined;
    if (segment.literal !== undefined) {
      if (part !== segment.literal) return undefined;
    } else {
      if (part === '') return undefined;
      params[segment.param!] = queryUnescape(part);
    }
  }
  return parts.length === segments.length ? params : undefined;
}
