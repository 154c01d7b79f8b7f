import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/**
 * The request/response model of the dev sidecar's Dapr API routes (everything except service
 * invocation, which streams raw requests). Shapes follow docs/dapr-behaviour.md §1.
 */
export interface ApiRequest {
  method: string;
  /** The cleaned path: double slashes collapsed (docs/dapr-behaviour.md §1). */
  path: string;
  /** Route parameters, `url.QueryUnescape`d like daprd (a literal `+` becomes a space). */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /**
   * The whole body; over 4 MiB the server refuses it, unless the route reads a truncated body:
   * then its first 4 MiB, with `bodyTruncated`.
   */
  body: Buffer;
  bodyTruncated?: boolean;
  /** `metadata.<k>=<v>` query parameters as component metadata (first value wins). */
  metadata: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export type Handler = (request: ApiRequest) => Promise<ApiResponse>;

/**
 * A Dapr API route. `pattern` segments: literal, `{name}` (one segment) or `{name...}` (the rest
 * of the path, at least one segment), e.g. `/v1.0/publish/{pubsub}/{topic...}`.
 */
export interface Route {
  methods: string[];
  pattern: string;
  handler: Handler;
  /**
   * daprd only caps the body's stream (dapr/kit LimitReadCloser): a handler that decodes JSON
   * sees `stream too large` once it reads past 4 MiB, after its own checks. Such a route gets
   * the first 4 MiB and answers itself; any other is refused with 413.
   */
  readsTruncatedBody?: boolean;
}

/** A handler that gets the raw request (service invocation streams bodies through). */
export type RawHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
) => void | Promise<void>;

/** Success with no body: always 204 without a Content-Type (docs/dapr-behaviour.md §1). */
export const noContent = (): ApiResponse => ({ status: 204 });

export function json(status: number, value: unknown, headers: Record<string, string> = {}) {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value),
  } satisfies ApiResponse;
}

/** Legacy Dapr error body `{errorCode, message}` (messages.APIError). */
export const daprError = (status: number, errorCode: string, message: string): ApiResponse =>
  json(status, { errorCode, message });

/** A google.rpc detail as daprd encodes it: keys in alphabetical order, snake_case fields. */
export type ErrorDetail = Record<string, unknown> & { '@type': string };

/** Rich Dapr error body `{errorCode, message, details[]}` (kit errors.JSONErrorValue). */
export const richError = (
  status: number,
  errorCode: string,
  message: string,
  details: ErrorDetail[],
): ApiResponse => json(status, { errorCode, message, details });

export const errorInfo = (reason: string, metadata?: Record<string, string>): ErrorDetail => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  domain: 'dapr.io',
  ...(metadata ? { metadata } : {}),
  reason,
});

export const resourceInfo = (
  resourceType: string,
  resourceName: string,
  description: string,
): ErrorDetail => ({
  '@type': 'type.googleapis.com/google.rpc.ResourceInfo',
  description,
  owner: '',
  resource_name: resourceName,
  resource_type: resourceType,
});

export const badRequestDetail = (field: string, description: string): ErrorDetail => ({
  '@type': 'type.googleapis.com/google.rpc.BadRequest',
  field_violations: [{ description, field }],
});

/** Writes an ApiResponse; 204 never carries a body or Content-Type. */
export function send(response: ServerResponse, reply: ApiResponse): void {
  const body = reply.status === 204 ? undefined : reply.body;
  const headers: Record<string, string | number> = { ...reply.headers };
  if (reply.status === 204) delete headers['content-type'];
  else headers['content-length'] = body === undefined ? 0 : Buffer.byteLength(body);
  response.writeHead(reply.status, headers).end(body);
}
