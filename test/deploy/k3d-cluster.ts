// The names the cluster files agree on (k3d-config.yaml, deploy/, tilt/Tiltfile, the chaos test).

export const clusterName = 'sidecart';
/** k3d prefixes every object it makes, the kubeconfig context included. */
export const kubeContext = `k3d-${clusterName}`;
export const namespace = 'sidecart';
export const services = ['auth', 'products', 'orders'] as const;
export type ServiceName = (typeof services)[number];
/** The image Tilt builds for a service; the k3d overlay references it by this plain name. */
export const imageOf = (service: ServiceName) => `sidecart/${service}`;
export const registry = { name: 'k3d-sidecart-registry.localhost', hostPort: '5005' };
