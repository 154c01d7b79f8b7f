import { metadataValue, type ComponentResource } from '../types.ts';

const separator = '||';

export class IllegalKeyError extends Error {}

const checkKey = (key: string): void => {
  if (key.includes(separator)) {
    throw new IllegalKeyError(`input key/keyPrefix '${key}' can't contain '${separator}'`);
  }
};

/**
 * The stored key for an API key under the component's `keyPrefix` strategy (docs/dapr-behaviour.md §3.2,
 * dapr:pkg/components/state/state_config.go). daprd lower-cases the strategy before matching, so
 * a literal prefix is stored lower-cased too.
 */
export function keyPrefixer(
  component: ComponentResource,
  appId: string,
  namespace: string | undefined,
): (key: string) => string {
  const configured = metadataValue(component, 'keyPrefix') ?? '';
  if (configured !== '') checkKey(configured);
  const strategy = configured.toLowerCase() || 'appid';
  const prefix =
    strategy === 'none'
      ? undefined
      : strategy === 'name'
        ? component.name
        : strategy === 'appid'
          ? appId
          : strategy === 'namespace'
            ? namespace
              ? `${namespace}.${appId}`
              : appId
            : strategy;
  return (key) => {
    checkKey(key);
    return prefix ? `${prefix}${separator}${key}` : key;
  };
}

/** The API key back from a stored one: the text between the first and second `||`. */
export function originalKey(stored: string): string {
  const parts = stored.split(separator);
  return parts.length <= 1 ? stored : parts[1]!;
}
