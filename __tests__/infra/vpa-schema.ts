/**
 * An offline check of autoscaling.k8s.io/v1 VerticalPodAutoscaler objects. kubernetes-models ships no VPA model
 * and no npm package here carries the VPA CRD's schema, so this is a minimal JSON Schema written from the v1 API
 * (kubernetes/autoscaler, vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1): the fields the construct
 * writes, with the CRD's enums, the quantity pattern and required fields, validated by ajv. It is stricter than the
 * API server in one way on purpose: unknown fields are refused (the server would silently prune a misspelt one).
 */
import { Ajv } from "ajv";

const QUANTITY = "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";
const RESOURCE_LIST = {
  type: "object",
  additionalProperties: { anyOf: [{ type: "integer" }, { type: "string", pattern: QUANTITY }] },
};

const CONTAINER_POLICY = {
  type: "object",
  additionalProperties: false,
  properties: {
    containerName: { type: "string", minLength: 1 },
    mode: { enum: ["Auto", "Off"] },
    controlledResources: { type: "array", items: { type: "string" } },
    controlledValues: { enum: ["RequestsAndLimits", "RequestsOnly"] },
    minAllowed: RESOURCE_LIST,
    maxAllowed: RESOURCE_LIST,
  },
};

export const VERTICAL_POD_AUTOSCALER_SCHEMA = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  additionalProperties: false,
  properties: {
    apiVersion: { const: "autoscaling.k8s.io/v1" },
    kind: { const: "VerticalPodAutoscaler" },
    metadata: {
      type: "object",
      required: ["name", "namespace"],
      properties: {
        name: { type: "string", minLength: 1 },
        namespace: { type: "string", minLength: 1 },
        labels: { type: "object", additionalProperties: { type: "string" } },
      },
    },
    spec: {
      type: "object",
      required: ["targetRef"],
      additionalProperties: false,
      properties: {
        targetRef: {
          type: "object",
          required: ["kind", "name"],
          additionalProperties: false,
          properties: { apiVersion: { type: "string" }, kind: { type: "string" }, name: { type: "string", minLength: 1 } },
        },
        updatePolicy: {
          type: "object",
          additionalProperties: false,
          properties: {
            updateMode: { enum: ["Off", "Initial", "Recreate", "InPlaceOrRecreate", "InPlace", "Auto"] },
            minReplicas: { type: "integer" },
          },
        },
        resourcePolicy: {
          type: "object",
          additionalProperties: false,
          properties: { containerPolicies: { type: "array", items: CONTAINER_POLICY } },
        },
        recommenders: {
          type: "array",
          items: { type: "object", required: ["name"], properties: { name: { type: "string" } } },
        },
      },
    },
  },
} as const;

const validator = new Ajv({ allErrors: true, strict: true }).compile(VERTICAL_POD_AUTOSCALER_SCHEMA);

/** Throws with every problem ajv finds, as "path message" pairs. */
export function validateVerticalPodAutoscaler(object: unknown): void {
  if (validator(object)) return;
  const problems = (validator.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`);
  throw new Error(`VerticalPodAutoscaler does not validate: ${problems.join("; ")}`);
}
