/**
 * Deploy by digest: the chart renders repository:tag@digest when given one and refuses a malformed one, and
 * synth.sh writes a manifest that runs exactly that reference. Also the manifest reader the scripts rely on.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Testing } from "cdk8s";
import { buildApp, resolveImageDigest } from "../../charts/app";
import { ENVIRONMENTS, type EnvironmentName } from "../../charts/environments";
import { readReleaseTable } from "../../charts/release-table";
import {
  imagesOf,
  ingressUrl,
  objectsOfKind,
  parseManifest,
  splitNamespaces,
  unroutedPaths,
} from "../../scripts/image/manifest";
import { DIGEST, RELEASED_TAG, REPO, runScript } from "./harness";

const read = (file: string) => fs.readFileSync(path.join(REPO, file), "utf8");

/** The image of every container the app's charts would apply. */
function chartImages(imageDigest: string | undefined): string[] {
  const app = buildApp({ outdir: "unused", imageTag: "3f2a1c9", imageDigest });
  return app.charts.flatMap((chart) => imagesOf(Testing.synth(chart).map((o) => `---\n${JSON.stringify(o)}\n`).join("")));
}

describe("the chart, by digest", () => {
  it("reads IMAGE_DIGEST, and leaves it unset when CI does not set it", () => {
    expect(resolveImageDigest({})).toBeUndefined();
    expect(resolveImageDigest({ IMAGE_DIGEST: DIGEST })).toBe(DIGEST);
  });

  it("runs repository:tag@digest in every environment when given a digest, repository:tag without one", () => {
    // One chart per environment, then the Argo Rollouts form of each environment with a release entry.
    const charts = [...Object.keys(ENVIRONMENTS), ...Object.keys(readReleaseTable())] as EnvironmentName[];
    const repositories = charts.map((name) => ENVIRONMENTS[name].imageRepository);
    expect(chartImages(DIGEST)).toEqual(repositories.map((repository) => `${repository}:3f2a1c9@${DIGEST}`));
    expect(chartImages(undefined)).toEqual(repositories.map((repository) => `${repository}:3f2a1c9`));
  });

  it.each(["", "sha256:1234", `sha512:${"a".repeat(64)}`, `sha256:${"A".repeat(64)}`, `${"a".repeat(64)}`])(
    "refuses the malformed digest %p at synth time",
    (digest) => {
      expect(() => chartImages(digest)).toThrow(`image digest "${digest}" is not valid (sha256: followed by 64 lowercase hex digits)`);
    },
  );
});

describe("synth.sh, by digest", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyramidnet-synth-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(
    "writes a manifest whose only image is repository:tag@digest, and says so",
    async () => {
      const result = await runScript("synth.sh", {
        DEPLOY_ENVIRONMENT: "production",
        IMAGE_TAG: "3f2a1c9",
        IMAGE_DIGEST: DIGEST,
        REQUIRE_IMAGE_DIGEST: "1",
        MANIFEST_DIR: dir,
      });
      const expected = `${ENVIRONMENTS.production.imageRepository}:3f2a1c9@${DIGEST}`;
      expect(result.stderr).toBe("");
      expect(result).toMatchObject({ status: 0 });
      expect(result.stdout).toContain(`synthesized ${dir}/production.k8s.yaml with ${expected}`);
      expect(imagesOf(fs.readFileSync(path.join(dir, "production.k8s.yaml"), "utf8"))).toEqual([expected]);
    },
    180_000,
  );

  it(
    "refuses a malformed digest before synthesizing anything",
    async () => {
      const result = await runScript("synth.sh", { DEPLOY_ENVIRONMENT: "production", IMAGE_TAG: "3f2a1c9", IMAGE_DIGEST: "sha256:zz", MANIFEST_DIR: dir });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('image digest "sha256:zz" is not valid');
      expect(fs.readdirSync(dir)).toEqual([]);
    },
    60_000,
  );
});

describe("scripts/image/manifest.ts", () => {
  const production = read("dist/production.k8s.yaml");
  const development = read("dist/development.k8s.yaml");

  it("lists the images and Deployments of a manifest", () => {
    expect(imagesOf(production)).toEqual([`${ENVIRONMENTS.production.imageRepository}:${RELEASED_TAG}`]);
    // Production runs release tracks (charts/releases.json): one Deployment per track.
    expect(objectsOfKind(production, "Deployment")).toEqual([
      { namespace: ENVIRONMENTS.production.namespace, name: "pyramidnet-stable" },
      { namespace: ENVIRONMENTS.production.namespace, name: "pyramidnet-canary" },
    ]);
  });

  it("finds the Ingress URL: https where TLS covers the host, http where it does not", () => {
    expect(ingressUrl(production)).toBe(`https://${ENVIRONMENTS.production.ingress.host}`);
    expect(ingressUrl(development)).toBe(`http://${ENVIRONMENTS.development.ingress.host}`);
    // The gRPC Ingress has its own host; the smoke test speaks HTTP, so it is not the one.
    expect(production).toContain(`host: ${ENVIRONMENTS.production.grpcIngress.host}`);
    expect(unroutedPaths(production, ["/inference.GRPCInferenceService/ModelInfer"])).toEqual(["/inference.GRPCInferenceService/ModelInfer"]);
  });

  it("knows which paths the Ingress routes (Prefix by whole path elements, Exact as written)", () => {
    expect(unroutedPaths(production, ["/v2/health/ready", "/predict", "/predict/batch", "/", "/openapi.json"])).toEqual([]);
    expect(unroutedPaths(production, ["/health/ready", "/metrics", "/v2x", "/openapi.json/x"])).toEqual([
      "/health/ready",
      "/metrics",
      "/v2x",
      "/openapi.json/x",
    ]);
  });

  it("splits a manifest into its Namespaces and the rest, losing and reordering nothing", () => {
    const split = splitNamespaces(development);
    expect(split.names).toEqual([ENVIRONMENTS.development.namespace]);
    const objects = (text: string) => parseManifest(text).map((doc) => doc.object);
    expect(objects(split.namespaces).map((o) => o.kind)).toEqual(["Namespace"]);
    expect(objects(split.rest).map((o) => o.kind)).not.toContain("Namespace");
    // The committed manifest lists its Namespace first, so the two parts in order are the whole file.
    expect([...objects(split.namespaces), ...objects(split.rest)]).toEqual(objects(development));
  });

  it("refuses a manifest that is not valid YAML", () => {
    expect(() => imagesOf("kind: [unclosed")).toThrow(/manifest is not valid YAML/);
  });
});
