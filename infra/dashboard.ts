/**
 * The classifier's Grafana dashboard, generated from the recorded series of infra/monitoring-rules.ts (which are
 * built from the metric table), so a renamed metric or rule changes the dashboard with it. Shipped as a ConfigMap
 * that kube-prometheus-stack's Grafana sidecar imports (label `grafana_dashboard: "1"`), and as JSON in dist/ for a
 * manual import.
 */
import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import { panelSpecs, type DashboardLimits, type PanelSpec } from "./dashboard-panels";
import { RECORDED } from "./recorded-series";

/** One Prometheus query of a panel. */
export interface DashboardTarget {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
  readonly datasource: DatasourceRef;
}

interface DatasourceRef {
  readonly type: "prometheus";
  readonly uid: string;
}

interface GridPos {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface TimeseriesPanel {
  readonly id: number;
  readonly type: "timeseries";
  readonly title: string;
  readonly description: string;
  readonly datasource: DatasourceRef;
  readonly gridPos: GridPos;
  readonly fieldConfig: { readonly defaults: Record<string, unknown>; readonly overrides: readonly unknown[] };
  readonly options: Record<string, unknown>;
  readonly targets: readonly DashboardTarget[];
}

export interface RowPanel {
  readonly id: number;
  readonly type: "row";
  readonly title: string;
  readonly collapsed: false;
  readonly gridPos: GridPos;
  readonly panels: readonly [];
}

/** The subset of Grafana's dashboard JSON model this generator writes. */
export interface GrafanaDashboardModel {
  readonly uid: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly timezone: "browser";
  readonly schemaVersion: number;
  readonly version: number;
  readonly editable: boolean;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly annotations: { readonly list: readonly unknown[] };
  readonly templating: { readonly list: readonly Record<string, unknown>[] };
  readonly panels: ReadonlyArray<RowPanel | TimeseriesPanel>;
}

export interface DashboardProps extends DashboardLimits {
  /** The environment's namespace (a constant variable of the dashboard). */
  readonly namespace: string;
  /** Dashboard uid: at most 40 characters of letters, digits, "-" and "_". */
  readonly uid: string;
  readonly title: string;
}

const DATASOURCE: DatasourceRef = { type: "prometheus", uid: "${datasource}" };
const PANEL_WIDTH = 8;
const PANEL_HEIGHT = 8;

function timeseries(id: number, gridPos: GridPos, spec: PanelSpec): TimeseriesPanel {
  const thresholds =
    spec.limit === undefined
      ? { mode: "absolute", steps: [{ color: "green", value: null }] }
      : { mode: "absolute", steps: [{ color: "green", value: null }, { color: "red", value: spec.limit }] };
  return {
    id,
    type: "timeseries",
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        thresholds,
        custom: {
          thresholdsStyle: { mode: spec.limit === undefined ? "off" : "line" },
          stacking: { mode: spec.stacked === true ? "normal" : "none" },
          fillOpacity: spec.stacked === true ? 30 : 0,
        },
      },
      overrides: [],
    },
    options: { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi" } },
    targets: spec.queries.map((query, index) => ({
      refId: String.fromCharCode(65 + index),
      expr: query.expr,
      legendFormat: query.legend,
      datasource: DATASOURCE,
    })),
  };
}

function queryVariable(name: string, label: string, source: string): Record<string, unknown> {
  return {
    type: "query",
    name,
    label,
    datasource: DATASOURCE,
    query: { query: `label_values(${source}{namespace="$namespace"}, ${name})`, refId: `${name}-values` },
    definition: `label_values(${source}{namespace="$namespace"}, ${name})`,
    refresh: 2,
    includeAll: true,
    multi: true,
    // ".*" also matches series without the label (before the ServiceMonitor adds `track`, say).
    allValue: ".*",
    current: { text: "All", value: "$__all" },
    sort: 1,
  };
}

/** The dashboard's JSON model. */
export function buildDashboard(props: DashboardProps): GrafanaDashboardModel {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(props.uid)) {
    throw new Error(`dashboard uid "${props.uid}" must be 1-40 letters, digits, "-" or "_"`);
  }
  const panels: Array<RowPanel | TimeseriesPanel> = [];
  let y = 0;
  let id = 1;
  for (const { row, panels: specs } of panelSpecs(props)) {
    panels.push({ id: id++, type: "row", title: row, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] });
    y += 1;
    specs.forEach((spec, index) => {
      const x = (index % 3) * PANEL_WIDTH;
      if (index > 0 && x === 0) y += PANEL_HEIGHT;
      panels.push(timeseries(id++, { x, y, w: PANEL_WIDTH, h: PANEL_HEIGHT }, spec));
    });
    y += PANEL_HEIGHT;
  }
  return {
    uid: props.uid,
    title: props.title,
    tags: ["pyramidnet", "generated"],
    timezone: "browser",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    annotations: { list: [] },
    templating: {
      list: [
        { type: "datasource", name: "datasource", label: "Prometheus", query: "prometheus", current: {} },
        { type: "constant", name: "namespace", query: props.namespace, hide: 2 },
        queryVariable("track", "Track", RECORDED.podRequestRate),
        queryVariable("model_version", "Model version", RECORDED.predictionRequestRate),
      ],
    },
    panels,
  };
}

/** Every Prometheus query of a dashboard's panels, in panel order. */
export function dashboardQueries(dashboard: GrafanaDashboardModel): Array<{ readonly panel: string; readonly expr: string }> {
  return dashboard.panels.flatMap((panel) =>
    panel.type === "timeseries" ? panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })) : [],
  );
}

/** The dashboard file as written into ConfigMaps and dist/: stable, indented JSON with a final newline. */
export function renderDashboardJson(dashboard: GrafanaDashboardModel): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

export interface DashboardConfigMapProps extends DashboardProps {
  /** Name of the ConfigMap. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The label kube-prometheus-stack's Grafana sidecar watches for (its `sidecar.dashboards.label`, with value "1").
   * The sidecar looks in Grafana's own namespace unless `sidecar.dashboards.searchNamespace` is `ALL`.
   * @default "grafana_dashboard"
   */
  readonly sidecarLabel?: string;
}

/** A ConfigMap holding the dashboard, for Grafana's dashboard sidecar. */
export class DashboardConfigMap extends Construct {
  readonly dashboard: GrafanaDashboardModel;
  readonly apiObject: k8s.KubeConfigMap;

  constructor(scope: Construct, id: string, props: DashboardConfigMapProps) {
    super(scope, id);
    this.dashboard = buildDashboard(props);
    this.apiObject = new k8s.KubeConfigMap(this, "Resource", {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: { ...props.labels, [props.sidecarLabel ?? "grafana_dashboard"]: "1" },
      },
      data: { [`${props.uid}.json`]: renderDashboardJson(this.dashboard) },
    });
  }
}
