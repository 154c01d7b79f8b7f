/** The zod schemas of the Dapr manifests the dev sidecar reads, and what it serves. */
import { z } from 'zod';

/** The component types (and versions) the dev sidecar implements. */
export const served: Record<string, string[]> = {
  'state.postgresql': ['v1', 'v2'],
  'pubsub.redis': ['v1'],
};
export const servedList = 'state.postgresql v1/v2, pubsub.redis v1';

// The CRDs type these as strings; YAML numbers and booleans are stringified as daprd's decoder does.
const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const header = {
  metadata: z.object({ name: z.string().min(1), namespace: z.string().optional() }),
  scopes: z.array(z.string()).default([]),
};
export const metadataItem = z
  .object({
    name: z.string().min(1),
    value: scalar.nullish(),
    secretKeyRef: z.object({ name: z.string().min(1), key: z.string().optional() }).optional(),
    envRef: z.string().min(1).optional(),
  })
  .refine(
    (item) => [item.value, item.secretKeyRef, item.envRef].filter((v) => v != null).length <= 1,
    {
      message: 'set only one of value, secretKeyRef and envRef',
    },
  );
export const componentSchema = z.object({
  ...header,
  spec: z.object({
    type: z.string().regex(/^\w+\.[\w.-]+$/, 'must read <building-block>.<name>'),
    version: z.string().default('v1'),
    metadata: z.array(metadataItem).default([]),
  }),
});
const subscriptionSpec = {
  pubsubname: z.string().min(1),
  topic: z.string().min(1),
  deadLetterTopic: z.string().optional(),
  metadata: z.record(z.string(), scalar).default({}),
};
export const subscriptionV2 = z.object({
  ...header,
  spec: z.object({
    ...subscriptionSpec,
    routes: z.object({
      rules: z.array(z.object({ match: z.string(), path: z.string().min(1) })).default([]),
      default: z.string().optional(),
    }),
  }),
});
export const subscriptionV1 = z.object({
  ...header,
  spec: z.object({ ...subscriptionSpec, route: z.string().min(1) }),
});
const policyNames = z.object({
  timeout: z.string().optional(),
  retry: z.string().optional(),
  circuitBreaker: z.string().optional(),
});
export const resiliencySchema = z.object({
  ...header,
  spec: z.object({
    policies: z.object({
      timeouts: z.record(z.string(), z.string()).default({}),
      retries: z
        .record(
          z.string(),
          z.object({
            policy: z
              .string()
              .toLowerCase()
              .pipe(z.enum(['constant', 'exponential']))
              .optional(),
            duration: z.string().optional(),
            maxInterval: z.string().optional(),
            maxRetries: z.number().int().optional(),
            matching: z
              .object({
                httpStatusCodes: z.string().optional(),
                gRPCStatusCodes: z.string().optional(),
              })
              .optional(),
          }),
        )
        .default({}),
      circuitBreakers: z
        .record(
          z.string(),
          z.object({
            maxRequests: z.number().int().min(0).optional(),
            interval: z.string().optional(),
            timeout: z.string().optional(),
            trip: z.string().optional(),
          }),
        )
        .default({}),
    }),
    targets: z.object({
      apps: z.record(z.string(), policyNames).default({}),
      components: z
        .record(
          z.string(),
          z.object({ inbound: policyNames.optional(), outbound: policyNames.optional() }),
        )
        .default({}),
    }),
  }),
});
const action = z
  .string()
  .toLowerCase()
  .pipe(z.enum(['allow', 'deny']));
export const configurationSchema = z.object({
  metadata: header.metadata,
  spec: z
    .object({
      tracing: z.object({ samplingRate: scalar }).optional(),
      features: z.array(z.object({ name: z.string().min(1), enabled: z.boolean() })).default([]),
      accessControl: z
        .object({
          defaultAction: action.optional(),
          trustDomain: z.string().optional(),
          // daprd refuses the whole ACL when a policy lacks trustDomain or namespace (pkg/acl).
          policies: z
            .array(
              z.object({
                appId: z.string().min(1),
                defaultAction: action.optional(),
                trustDomain: z.string().min(1),
                namespace: z.string().min(1),
                operations: z
                  .array(
                    z.object({
                      name: z.string().min(1),
                      httpVerb: z.array(z.string()).default([]),
                      action,
                    }),
                  )
                  .default([]),
              }),
            )
            .optional(),
        })
        .optional(),
    })
    .default({ features: [] }),
});

export const kinds: Record<string, { versions: string[]; schema: z.ZodType }> = {
  Component: { versions: ['dapr.io/v1alpha1'], schema: componentSchema },
  Subscription: { versions: ['dapr.io/v2alpha1', 'dapr.io/v1alpha1'], schema: subscriptionV2 },
  Resiliency: { versions: ['dapr.io/v1alpha1'], schema: resiliencySchema },
  Configuration: { versions: ['dapr.io/v1alpha1'], schema: configurationSchema },
};

export const secretsSchema = z.record(z.string(), z.record(z.string(), z.string()));
