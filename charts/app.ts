import { mkdirSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import { App, YamlOutputType } from "cdk8s";
import { renderAdapterValuesFile, renderDashboardJson, requestRateRule, type AdapterValuesProps } from "../infra";
import { METRIC_NAMES } from "../infra/service-contract";
import { version as packageVersion } from "../package.json";
import { ENVIRONMENTS, type EnvironmentTable } from "./environments";
import { PyramidNetChart } from "./pyramidnet-chart";
import { PyramidNetRolloutChart } from "./pyramidnet-rollout-chart";
import { readReleaseTable, type ReleaseTable } from "./release-table";

/** Where the prometheus-adapter Helm values go, relative to the output directory. */
export const ADAPTER_VALUES_PATH = posix.join("prometheus-adapter", "values.yaml");

/** Where each environment's Grafana dashboard goes (for a manual import), relative to the output directory. */
export function dashboardPath(environmentName: string): string {
  return posix.join("grafana", `${environmentName}.dashboard.json`);
}

export interface BuildOptions {
  /** Directory the manifests are written to. */
  readonly outdir: string;
  /** The image tag every environment deploys. */
  readonly imageTag: string;
  /**
   * The digest of the image behind that tag (`sha256:` and 64 hex digits); when set every Deployment runs
   * `repository:tag@digest`, so the kubelet pulls exactly the bytes that were pushed and tested.
   * @default - no digest: the tag alone identifies the image
   */
  readonly imageDigest?: string;
  /**
   * The environments.
   * @default ENVIRONMENTS
   */
  readonly environments?: EnvironmentTable;
  /**
   * The release entries (stable and canary tracks) by environment.
   * @default - charts/releases.json for the committed table; none for another table
   */
  readonly releases?: ReleaseTable;
}

/** The name of the Argo Rollouts form of an environment: its chart id and its file's stem. */
export function rolloutChartName(environment: string): string {
  return `${environment}-rollout`;
}

/**
 * The image tag: IMAGE_TAG when set (CI deploys the commit it built), else the package version. Never "latest":
 * the construct refuses it, and refuses an IMAGE_TAG that is set but empty rather than guessing.
 */
export function resolveImageTag(env: Readonly<Record<string, string | undefined>>): string {
  return env.IMAGE_TAG ?? packageVersion;
}

/**
 * The image digest: IMAGE_DIGEST when set (CI passes the digest the push printed), else none. A set but malformed
 * (or empty) IMAGE_DIGEST is passed on as it is, so the construct refuses it instead of deploying by tag.
 */
export function resolveImageDigest(env: Readonly<Record<string, string | undefined>>): string | undefined {
  return env.IMAGE_DIGEST;
}

/**
 * The app: one chart per environment, each synthesized to <outdir>/<environment>.k8s.yaml, and for each
 * environment with a release entry its Argo Rollouts form, <outdir>/<environment>-rollout.k8s.yaml.
 */
export function buildApp(options: BuildOptions): App {
  const table: EnvironmentTable = options.environments ?? ENVIRONMENTS;
  const app = new App({
    outdir: options.outdir,
    yamlOutputType: YamlOutputType.FILE_PER_CHART,
    // Keeps dist/ free of construct-metadata.json whatever CDK8S_RECORD_CONSTRUCT_METADATA says.
    recordConstructMetadata: false,
  });
  const releases = options.releases ?? (options.environments === undefined ? readReleaseTable() : {});
  for (const environment of Object.keys(releases)) {
    if (!(environment in table)) {
      throw new Error(`the release file has an entry for "${environment}", which is not an environment (${Object.keys(table).join(", ")})`);
    }
  }
  for (const [name, spec] of Object.entries(table)) {
    new PyramidNetChart(app, name, {
      environmentName: name,
      spec,
      imageTag: options.imageTag,
      imageDigest: options.imageDigest,
      release: releases[name],
    });
  }
  for (const [name, release] of Object.entries(releases)) {
    new PyramidNetRolloutChart(app, rolloutChartName(name), {
      environmentName: name,
      spec: table[name],
      imageTag: options.imageTag,
      imageDigest: options.imageDigest,
      release,
    });
  }
  return app;
}

/** The prometheus-adapter values every environment's HPA relies on (one adapter serves the whole cluster). */
export function adapterValues(): AdapterValuesProps {
  return {
    rules: [
      requestRateRule({ counter: METRIC_NAMES.httpRequestsTotal, rateMetric: METRIC_NAMES.requestsPerSecond }),
    ],
  };
}

/** Writes every manifest, the adapter values and the dashboards into options.outdir. */
export function synthesize(options: BuildOptions): void {
  const app = buildApp(options);
  app.synth();
  // One dashboard file per environment; the Rollout form's dashboard is the same one (same queries, same uid).
  // buildApp gives each environment's PyramidNetChart the environment's key as its id. The cast is needed because
  // cdk8s's Chart answers `instanceof` for any chart, so the check cannot narrow the type.
  for (const name of Object.keys(options.environments ?? ENVIRONMENTS)) {
    const chart = app.node.tryFindChild(name);
    if (!(chart instanceof PyramidNetChart)) throw new Error(`the app has no environment chart named ${name}`);
    const { dashboard } = chart as PyramidNetChart;
    const file = join(options.outdir, dashboardPath(name));
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, renderDashboardJson(dashboard.dashboard));
  }
  const valuesFile = join(options.outdir, ADAPTER_VALUES_PATH);
  mkdirSync(join(options.outdir, "prometheus-adapter"), { recursive: true });
  writeFileSync(valuesFile, renderAdapterValuesFile(adapterValues(), posix.join("dist", ADAPTER_VALUES_PATH)));
}
