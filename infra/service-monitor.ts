import type { IServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";
import { durationSeconds } from "./durations";

/** The spec of a prometheus-operator ServiceMonitor, typed from the operator's CRD schema. */
export type ServiceMonitorSpec = IServiceMonitor["spec"];

export interface ServiceMonitorProps {
  readonly name: string;
  readonly namespace: string;
  /**
   * Labels of the ServiceMonitor itself. Prometheus picks up only ServiceMonitors that match its
   * serviceMonitorSelector; kube-prometheus-stack selects `release: <its release name>` by default.
   */
  readonly labels: Readonly<Record<string, string>>;
  /** Labels of the Service to scrape (the selector, so it cannot match another release's Service). */
  readonly serviceSelector: Readonly<Record<string, string>>;
  /** Name of the Service port to scrape (the Service's port name, not the container's). */
  readonly portName: string;
  /** The metrics path. */
  readonly path: string;
  /**
   * How often Prometheus scrapes each pod.
   * @default "15s"
   */
  readonly interval?: string;
  /**
   * How long one scrape may take; must not exceed the interval.
   * @default "10s"
   */
  readonly scrapeTimeout?: string;
  /**
   * Pod labels Prometheus copies onto every series it scrapes from the pod (for example the release track).
   * @default - none
   */
  readonly podTargetLabels?: readonly string[];
}

/** A monitoring.coreos.com/v1 ServiceMonitor that scrapes one Service port. */
export class ServiceMonitor extends Construct {
  readonly apiObject: ApiObject;

  constructor(scope: Construct, id: string, props: ServiceMonitorProps) {
    super(scope, id);
    const interval = props.interval ?? "15s";
    const scrapeTimeout = props.scrapeTimeout ?? "10s";
    if (durationSeconds(scrapeTimeout, "scrapeTimeout") > durationSeconds(interval, "interval")) {
      throw new Error(`ServiceMonitor scrapeTimeout (${scrapeTimeout}) exceeds its interval (${interval})`);
    }
    const spec: ServiceMonitorSpec = {
      selector: { matchLabels: { ...props.serviceSelector } },
      namespaceSelector: { matchNames: [props.namespace] },
      endpoints: [{ port: props.portName, path: props.path, interval, scrapeTimeout, scheme: "http" }],
      ...(props.podTargetLabels === undefined ? {} : { podTargetLabels: [...props.podTargetLabels] }),
    };
    this.apiObject = new ApiObject(this, "Resource", {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels } },
      spec,
    });
  }
}
