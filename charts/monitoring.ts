import type { Construct } from "constructs";
import {
  ClassifierPrometheusRule,
  DashboardConfigMap,
  INFERENCE_SERVICE_DEFAULTS,
  SLO_DEFAULTS,
  TRACK_LABEL,
  type InferenceService,
  type RuleTiming,
} from "../infra";
import { CONTAINER_NAME } from "../infra/pod-spec";
import type { EnvironmentSpec } from "./environments";

/** The runbook every alert links to (a placeholder repository, like the production host and registry). */
export const RUNBOOK_URL = "https://github.com/pyramidnet/pyramidnet/blob/main/docs/runbook.md";

export interface EnvironmentMonitoringProps {
  /** The environment's key in its table. */
  readonly environmentName: string;
  readonly spec: EnvironmentSpec;
  /** The instance label of the classifier (`pyramidnet-<environment>`): it names the rule groups and the dashboard. */
  readonly instance: string;
  /**
   * Every workload of the environment: one InferenceService, or a release's stable and canary tracks. Rules are
   * per namespace and grouped by `track`, so one PrometheusRule and one dashboard watch them all.
   */
  readonly services: readonly InferenceService[];
  /**
   * Shorter rule windows, for tests against a real Prometheus only.
   * @default production timing
   */
  readonly ruleTiming?: RuleTiming;
}

/** One environment's PrometheusRule and Grafana dashboard ConfigMap, from the config its pods run with. */
export function environmentMonitoring(
  scope: Construct,
  props: EnvironmentMonitoringProps,
): { readonly rules: ClassifierPrometheusRule; readonly dashboard: DashboardConfigMap } {
  const [first] = props.services;
  if (first === undefined) throw new Error(`the ${props.environmentName} monitoring needs at least one classifier`);
  // Thresholds come from the rendered config the pods run with, so alerts and limits cannot drift apart. Tracks
  // differ in model version and image only, never in these limits; the smallest limit is the one that pages first.
  const limits = {
    maxQueue: Math.min(...props.services.map((service) => service.config.maxQueue)),
    maxConcurrentRequests: Math.min(...props.services.map((service) => service.config.maxConcurrentRequests)),
  };
  const objectives = props.spec.slo ?? SLO_DEFAULTS;
  // One object watches every track, so it carries the instance's labels without the `track` one.
  const { [TRACK_LABEL]: _track, ...labels } = first.labels;
  const rules = new ClassifierPrometheusRule(scope, "Rules", {
    name: first.name,
    namespace: props.spec.namespace,
    labels: { ...labels, ...INFERENCE_SERVICE_DEFAULTS.serviceMonitorLabels },
    groupPrefix: props.instance,
    workloadNames: props.services.map((service) => service.objectName),
    containerName: CONTAINER_NAME,
    autoscalerNames: props.services.flatMap((service) => (service.autoscaler === undefined ? [] : [service.objectName])),
    ...limits,
    objectives,
    runbookUrl: RUNBOOK_URL,
    timing: props.ruleTiming,
  });
  const dashboard = new DashboardConfigMap(scope, "Dashboard", {
    name: `${first.name}-dashboard`,
    namespace: props.spec.namespace,
    labels,
    uid: props.instance,
    title: `PyramidNet (${props.environmentName})`,
    ...limits,
    objectives,
  });
  return { rules, dashboard };
}
