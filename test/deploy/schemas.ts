import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { K8sObject } from './render.ts';

// Built-in kinds are checked against Kubernetes' own OpenAPI schemas (kubernetes-models); the
// custom resources against compact schemas of our own (schemas/*.schema.json), which are stricter
// than the upstream CRDs: they refuse unknown fields, so a misplaced `spec.scopes` is an error.
// A kind in neither list is an error too: nothing reaches the cluster unchecked.

type Model = new (data: never) => { validate(): void };

const builtIn: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

const custom: Record<string, string> = {
  'dapr.io/v1alpha1/Component': 'dapr-component',
  'dapr.io/v1alpha1/Configuration': 'dapr-configuration',
  'dapr.io/v1alpha1/Resiliency': 'dapr-resiliency',
  'dapr.io/v1alpha1/Subscription': 'dapr-subscription',
  'dapr.io/v2alpha1/Subscription': 'dapr-subscription',
  'traefik.io/v1alpha1/IngressRoute': 'traefik-ingressroute',
  'traefik.io/v1alpha1/Middleware': 'traefik-middleware',
  'postgresql.cnpg.io/v1/Cluster': 'cnpg-cluster',
  'postgresql.cnpg.io/v1/Database': 'cnpg-database',
};

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
addFormats.default(ajv);
const compiled = new Map<string, ValidateFunction>();

function customValidator(schema: string): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    const file = path.join(import.meta.dirname, 'schemas', `${schema}.schema.json`);
    validate = ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
    compiled.set(schema, validate);
  }
  return validate;
}

// RFC 1123 subdomain: what Kubernetes requires of most object names (the models do not check it).
const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `Kind/name` for messages. */
export const idOf = (object: K8sObject) => `${object.kind}/${object.metadata?.name}`;

/** Every schema violation of the objects, one line each; empty when all are valid. */
export function schemaViolations(objects: K8sObject[]): string[] {
  return objects.flatMap((object) => {
    const type = `${object.apiVersion}/${object.kind}`;
    const problems: string[] = [];
    const name = object.metadata?.name;
    if (typeof name !== 'string' || name.length > 253 || !dns1123.test(name)) {
      problems.push(`${idOf(object)}: metadata.name is not a DNS-1123 name`);
    }
    const Model = builtIn[type];
    const schema = custom[type];
    if (Model) {
      try {
        new Model(object as never).validate();
      } catch (error) {
        problems.push(`${idOf(object)}: ${(error as Error).message}`);
      }
    } else if (schema) {
      const validate = customValidator(schema);
      if (!validate(object)) {
        for (const error of validate.errors ?? []) {
          problems.push(`${idOf(object)}: ${error.instancePath || '/'} ${error.message}`);
        }
      }
    } else {
      problems.push(`${idOf(object)}: no schema for ${type}`);
    }
    return problems;
  });
}
