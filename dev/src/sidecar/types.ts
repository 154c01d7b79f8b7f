import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '@sidecart/chassis/logger';
import type pg from 'pg';
import type { RawHandler, Route } from './api.ts';

/**
 * The seams between the dev sidecar's parts. `sidecar.ts` builds one SidecarContext and hands it
 * to each building block (state, pub/sub, invocation); each gives back routes and a close().
 */

/** A Component resource after loading: secrets resolved, metadata values as strings. */
export interface ComponentResource {
  name: string;
  /** `<building-block>.<name>`, e.g. `state.postgresql`. */
  type: string;
  /** `spec.version`, e.g. `v1` (defaults to `v1` when absent). */
  version: string;
  /** Metadata by name as written; look names up with `metadataValue` (case-insensitive). */
  metadata: Record<string, string>;
  /** App ids that load it; empty = every app. */
  scopes: string[];
  /** The file it came from (for error messages). */
  file: string;
}

/** One declarative Subscription (dapr.io/v2alpha1) that applies to this app. */
export interface SubscriptionResource {
  name: string;
  pubsubname: string;
  topic: string;
  routes: { rules: { match: string; path: string }[]; default?: string };
  deadLetterTopic?: string;
  metadata: Record<string, string>;
}

/** Access control and tracing of the Configuration resource, where the sidecar honours them. */
export interface ConfigurationResource {
  name: string;
  tracing?: { samplingRate: string };
  accessControl?: {
    defaultAction: 'allow' | 'deny';
    trustDomain?: string;
    policies: {
      appId: string;
      /** daprd matches callers on app id, trust domain and namespace together. */
      trustDomain?: string;
      namespace?: string;
      defaultAction?: 'allow' | 'deny';
      operations: { name: string; httpVerb: string[]; action: 'allow' | 'deny' }[];
    }[];
  };
  features: { name: string; enabled: boolean }[];
}

/** What the resources folder(s) hold for this app id (scopes and namespace applied). */
export interface Resources {
  components: ComponentResource[];
  subscriptions: SubscriptionResource[];
  configuration?: ConfigurationResource;
  /** Raw Resiliency specs for this app; `createResiliency` turns them into policies. */
  resiliencies: ResiliencySpec[];
}

export interface ResiliencySpec {
  name: string;
  policies: {
    timeouts: Record<string, string>;
    retries: Record<
      string,
      {
        policy?: 'constant' | 'exponential';
        duration?: string;
        maxInterval?: string;
        maxRetries?: number;
        matching?: { httpStatusCodes?: string; gRPCStatusCodes?: string };
      }
    >;
    circuitBreakers: Record<
      string,
      { maxRequests?: number; interval?: string; timeout?: string; trip?: string }
    >;
  };
  targets: {
    apps: Record<string, { timeout?: string; retry?: string; circuitBreaker?: string }>;
    components: Record<
      string,
      {
        outbound?: { timeout?: string; retry?: string; circuitBreaker?: string };
        inbound?: { timeout?: string; retry?: string; circuitBreaker?: string };
      }
    >;
  };
}

/** Thrown (or given as the cause) when a resiliency timeout fires: daprd's wording. */
export const deadlineExceeded = 'context deadline exceeded';
/** Thrown when a circuit breaker is open: daprd's wording. */
export const circuitOpen = 'circuit breaker is open';

export interface ExecuteOptions<T> {
  /**
   * Classifies a result that did not throw: return its HTTP status when it counts as a failure
   * (for invocation: status < 200 or > 399), undefined when it is a success. A failing result is
   * retried if the retry policy matches the status; after the last attempt it is returned as is.
   */
  failureStatus?: (result: T) => number | undefined;
  /** Circuit breakers are kept per key (invocation: the method), besides per target. */
  circuitKey?: string;
  /**
   * Ends the whole execution: aborts the attempt in flight (each attempt's signal follows it) and
   * the backoff wait, and nothing is retried after it, as daprd's runner stops with its context.
   */
  signal?: AbortSignal;
}

/** The policies (timeout per attempt, retry, circuit breaker) that apply to one target. */
export interface EndpointPolicy {
  /** True when no policy at all applies (daprd: nothing by default). */
  readonly isEmpty: boolean;
  execute<T>(attempt: (signal: AbortSignal) => Promise<T>, options?: ExecuteOptions<T>): Promise<T>;
}

/** Resiliency as daprd resolves it: named targets first, then the Default* policies. */
export interface Resiliency {
  /** Calls to app `appId` (invocation); `builtInRetries` says whether daprd's 3×1 s apply. */
  app(appId: string): EndpointPolicy & { builtInRetries: boolean };
  componentOutbound(component: string, kind: 'state' | 'pubsub'): EndpointPolicy;
  componentInbound(component: string): EndpointPolicy;
}

export interface AppResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The sidecar's channel to its own app (daprd's app channel). */
export interface AppChannel {
  readonly port: number;
  readonly host: string;
  /** Resolves once the app port accepts TCP connections (daprd's blockUntilAppIsReady). */
  waitUntilReachable(signal?: AbortSignal): Promise<void>;
  /** One buffered HTTP call to the app; adds `dapr-api-token` when APP_API_TOKEN is set. */
  request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Buffer | string,
    signal?: AbortSignal,
  ): Promise<AppResponse>;
}

export interface SidecarContext {
  appId: string;
  /** This sidecar among its app's replicas (the pod name in k8s): registry entries, {podName}. */
  instanceId: string;
  namespace?: string;
  resources: Resources;
  resiliency: Resiliency;
  /**
   * The dev stack's own database (name registry and the pub/sub broker's streams). State stores
   * connect where their component's connectionString says.
   */
  pool: pg.Pool;
  app: AppChannel;
  log: Logger;
}

/** What each building block hands back to `sidecar.ts`. */
export interface BuildingBlock {
  routes: Route[];
  /** Called after the app is reachable (pub/sub reads /dapr/subscribe and starts consuming). */
  onAppReady?(): Promise<void>;
  /** Entries for GET /v1.0/metadata (`components`, `subscriptions`). */
  metadata?(): Record<string, unknown>;
  close(): Promise<void>;
}

/** Invocation also owns the fallback route and the sidecar-to-sidecar port. */
export interface InvocationBlock extends BuildingBlock {
  fallback: RawHandler;
  /** The port other sidecars call (daprd's 50002); registered in the name registry. */
  readonly internalPort: number;
}

/** Case-insensitive metadata lookup, as components-contrib reads component metadata. */
export function metadataValue(component: ComponentResource, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(component.metadata)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}
