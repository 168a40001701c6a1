import type { IPrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";
import { monitoringRuleGroups, type MonitoringRulesProps, type RuleGroup } from "./monitoring-rules";

/** The spec of a prometheus-operator PrometheusRule, typed from the operator's CRD schema. */
export type PrometheusRuleSpec = IPrometheusRule["spec"];

export interface ClassifierPrometheusRuleProps extends MonitoringRulesProps {
  /** Name of the PrometheusRule. */
  readonly name: string;
  /**
   * Labels of the PrometheusRule. Prometheus loads only rules that match its ruleSelector; kube-prometheus-stack
   * selects `release: <its release name>` by default.
   */
  readonly labels: Readonly<Record<string, string>>;
}

/** A monitoring.coreos.com/v1 PrometheusRule with the classifier's recording rules and alerts. */
export class ClassifierPrometheusRule extends Construct {
  readonly apiObject: ApiObject;
  /** The rule groups, exactly as synthesized (the tests hand them to promtool and Prometheus). */
  readonly groups: readonly RuleGroup[];

  constructor(scope: Construct, id: string, props: ClassifierPrometheusRuleProps) {
    super(scope, id);
    this.groups = monitoringRuleGroups(props);
    const spec: PrometheusRuleSpec = {
      groups: this.groups.map((group) => ({ name: group.name, rules: group.rules.map((rule) => ({ ...rule })) })),
    };
    this.apiObject = new ApiObject(this, "Resource", {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels } },
      spec,
    });
  }
}
