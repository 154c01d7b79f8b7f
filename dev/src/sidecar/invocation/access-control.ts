import type { ConfigurationResource } from '../types.ts';

type AccessControl = NonNullable<ConfigurationResource['accessControl']>;

export interface InboundCall {
  callerAppId: string;
  callerNamespace: string;
  /** The method, without the leading slash. */
  operation: string;
  verb: string;
}

interface CompiledOperation {
  pattern: RegExp;
  isExact: boolean;
  length: number;
  verbs: string[];
  isAllowed: boolean;
}

/**
 * The callee's invocation ACL (Configuration `accessControl`, docs/dapr-behaviour.md §6.2; pkg/acl): a
 * function giving daprd's denial message, or undefined when the call is allowed. The caller's
 * identity is its app id, as the SPIFFE id would carry it with mTLS.
 */
export function compileAccessControl(
  acl: AccessControl | undefined,
): (call: InboundCall) => string | undefined {
  if (!acl) return () => undefined;
  // daprd keys policies by app id and namespace (pkg/acl); a policy without one (the loader
  // requires it from real files) matches the caller's namespace, whatever it is.
  const key = (appId: string, namespace: string | undefined) => `${namespace ?? '*'}/${appId}`;
  const policies = new Map(
    acl.policies.map((policy) => [
      key(policy.appId, policy.namespace),
      {
        defaultAction: policy.defaultAction ?? acl.defaultAction,
        operations: policy.operations.map(compileOperation),
      },
    ]),
  );
  return (call) => {
    const policy =
      policies.get(key(call.callerAppId, call.callerNamespace)) ??
      policies.get(key(call.callerAppId, undefined));
    let isAllowed = (policy?.defaultAction ?? acl.defaultAction) === 'allow';
    const operation = matchOperation(policy?.operations ?? [], call.operation);
    if (operation && (operation.verbs.includes(call.verb) || operation.verbs.includes('*'))) {
      isAllowed = operation.isAllowed;
    }
    if (isAllowed) return undefined;
    // The caller's trust domain is its own Configuration's; "public" is daprd's default.
    const id = `spiffe://public/ns/${call.callerNamespace}/${call.callerAppId}`;
    return `access control policy has denied access to id: ${id} operation: ${call.operation} verb: ${call.verb}`;
  };
}

/**
 * Operation names are path globs: `*` within one segment, `**` across segments; HTTP matching
 * ignores case. An exact name wins over globs, then the longest glob.
 */
function compileOperation(operation: AccessControl['policies'][number]['operations'][number]) {
  const name = (
    operation.name.startsWith('/') ? operation.name : `/${operation.name}`
  ).toLowerCase();
  const source = name
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*');
  return {
    pattern: new RegExp(`^${source}$`),
    isExact: !name.includes('*'),
    length: name.length,
    verbs: operation.httpVerb.map((verb) => verb.toUpperCase()),
    isAllowed: operation.action === 'allow',
  } satisfies CompiledOperation;
}

function matchOperation(operations: CompiledOperation[], method: string) {
  const path = `/${method}`.toLowerCase();
  let best: CompiledOperation | undefined;
  for (const operation of operations) {
    if (!operation.pattern.test(path)) continue;
    if (operation.isExact) return operation;
    if (!best || operation.length > best.length) best = operation;
  }
  return best;
}
