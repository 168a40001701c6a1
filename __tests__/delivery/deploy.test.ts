/**
 * deploy.sh and rollback.sh against a fake kubectl that emulates the API server's namespace rule and the
 * Deployment controller's revisions (see fake-bin/kubectl).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { DIGEST, FakeCluster, NAMESPACE, RELEASED_TAG, REPO, REPOSITORY, runScript } from "./harness";

const RUN_TIMEOUT_MS = 120_000;
const OTHER_OBJECTS = [
  "ServiceAccount/pyramidnet",
  "ConfigMap/pyramidnet-config",
  "Deployment/pyramidnet",
  "Service/pyramidnet",
  "HorizontalPodAutoscaler/pyramidnet",
  "NetworkPolicy/pyramidnet",
  "ServiceMonitor/pyramidnet",
  "Ingress/pyramidnet",
  "PrometheusRule/pyramidnet",
  "ConfigMap/pyramidnet-dashboard",
];

let cluster: FakeCluster;
beforeEach(() => {
  cluster = new FakeCluster();
  cluster.writeManifest(`${REPOSITORY}:${RELEASED_TAG}`);
});
afterEach(() => cluster.remove());

describe("the fake kubectl", () => {
  it("refuses a one-file server-side dry run on a fresh cluster, as a real API server does", () => {
    const result = spawnSync("kubectl", ["apply", "--server-side", "--dry-run=server", "-f", cluster.manifest], {
      env: { ...process.env, ...cluster.env() },
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`namespaces "${NAMESPACE}" not found`);
    expect(cluster.state().namespaces).not.toContain(NAMESPACE);
  });
});

describe("deploy.sh", () => {
  it(
    "DRY_RUN=1 on a fresh cluster creates only the missing Namespace, dry-runs the rest and waits for nothing",
    async () => {
      const result = await runScript("deploy.sh", cluster.env({ DRY_RUN: "1" }));
      expect(result).toMatchObject({ status: 0 });
      expect(result.stdout).toContain(`creating the missing namespace(s) ${NAMESPACE} for real`);
      expect(result.stdout).toContain(`dry run of ${REPOSITORY}:${RELEASED_TAG} admitted`);
      expect(cluster.applies()).toEqual([
        { dryRun: false, objects: [`Namespace/${NAMESPACE}`] },
        { dryRun: true, objects: OTHER_OBJECTS },
      ]);
      expect(cluster.state().namespaces).toContain(NAMESPACE);
      expect(cluster.state().deployments).toEqual({});
      expect(cluster.callsOf("rollout")).toEqual([]);
      expect(fs.existsSync(cluster.revisionsFile)).toBe(false);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "DRY_RUN=1 where the Namespace exists changes nothing at all",
    async () => {
      cluster.withNamespaces(NAMESPACE);
      const result = await runScript("deploy.sh", cluster.env({ DRY_RUN: "1" }));
      expect(result).toMatchObject({ status: 0 });
      expect(result.stdout).not.toContain("for real");
      expect(cluster.applies()).toEqual([
        { dryRun: true, objects: [`Namespace/${NAMESPACE}`] },
        { dryRun: true, objects: OTHER_OBJECTS },
      ]);
      expect(cluster.state().deployments).toEqual({});
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "applies the Namespace, then the rest, records the revision it replaces and waits for the rollout",
    async () => {
      const result = await runScript("deploy.sh", cluster.env());
      expect(result).toMatchObject({ status: 0 });
      expect(result.stdout).toContain(`deployed ${REPOSITORY}:${RELEASED_TAG}`);
      expect(cluster.applies()).toEqual([
        { dryRun: false, objects: [`Namespace/${NAMESPACE}`] },
        { dryRun: false, objects: OTHER_OBJECTS },
      ]);
      // First deploy: there was no Deployment before.
      expect(fs.readFileSync(cluster.revisionsFile, "utf8")).toBe(`${NAMESPACE} pyramidnet -\n`);
      expect(cluster.callsOf("rollout")).toEqual([
        ["rollout", "status", "deployment/pyramidnet", "--namespace", NAMESPACE, "--timeout", "10m"],
      ]);
      expect(cluster.runningImage()).toBe(`${REPOSITORY}:${RELEASED_TAG}`);
      // Every apply is server-side, owned by one field manager, and takes over hand-edited fields.
      for (const call of cluster.callsOf("apply")) {
        expect(call).toEqual(expect.arrayContaining(["--server-side", "--force-conflicts", "--field-manager=pyramidnet-deploy"]));
      }
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "deploys by digest when the manifest runs repository:tag@digest, and refuses a manifest that runs the tag alone",
    async () => {
      const unpinned = await runScript("deploy.sh", cluster.env({ IMAGE_DIGEST: DIGEST }));
      expect(unpinned.status).toBe(1);
      expect(unpinned.stderr).toContain(`runs '${REPOSITORY}:${RELEASED_TAG}', not exactly ${REPOSITORY}:${RELEASED_TAG}@${DIGEST}`);
      expect(cluster.calls()).toEqual([]);

      cluster.writeManifest(`${REPOSITORY}:${RELEASED_TAG}@${DIGEST}`);
      const pinned = await runScript("deploy.sh", cluster.env({ IMAGE_DIGEST: DIGEST, REQUIRE_IMAGE_DIGEST: "1" }));
      expect(pinned).toMatchObject({ status: 0 });
      expect(cluster.runningImage()).toBe(`${REPOSITORY}:${RELEASED_TAG}@${DIGEST}`);
    },
    RUN_TIMEOUT_MS,
  );

  it.each([
    ["REQUIRE_IMAGE_DIGEST=1 without a digest", { REQUIRE_IMAGE_DIGEST: "1" }, /REQUIRE_IMAGE_DIGEST=1 but IMAGE_DIGEST is not set/],
    ["a malformed digest", { IMAGE_DIGEST: "sha256:1234" }, /image digest "sha256:1234" is not valid/],
    ["an empty digest", { IMAGE_DIGEST: "" }, /image digest "" is not valid/],
    ["an image built from uncommitted changes", { IMAGE_TAG: "0123abc-dirty" }, /refusing to deploy pyramidnet:0123abc-dirty/],
  ])(
    "refuses %s before calling kubectl",
    async (_what, settings, message) => {
      const result = await runScript("deploy.sh", cluster.env(settings));
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(cluster.calls()).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "refuses to run without a synthesized manifest",
    async () => {
      fs.rmSync(cluster.manifest);
      const result = await runScript("deploy.sh", cluster.env());
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`${cluster.manifest} is missing; run npm run deploy:synth first`);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "writes KUBECONFIG_DATA to a private file for kubectl, and removes it afterwards",
    async () => {
      // A kubectl that reports the file it was given, its mode and its content, and then succeeds like the fake.
      const bin = path.join(cluster.root, "bin");
      fs.mkdirSync(bin);
      const report = path.join(cluster.root, "kubeconfig-seen");
      fs.writeFileSync(
        path.join(bin, "kubectl"),
        `#!/usr/bin/env bash\nif [ ! -f "${report}" ]; then stat -c '%a %n' "$KUBECONFIG" >"${report}"; cat "$KUBECONFIG" >>"${report}"; fi\n` +
          `exec "${path.join(REPO, "__tests__/delivery/fake-bin/kubectl")}" "$@"\n`,
        { mode: 0o755 },
      );
      const env = cluster.env({ DRY_RUN: "1", KUBECONFIG_DATA: "apiVersion: v1\nkind: Config" });
      const result = await runScript("deploy.sh", { ...env, PATH: `${bin}${path.delimiter}${env.PATH}` });
      expect(result).toMatchObject({ status: 0 });
      const [modeAndPath, ...content] = fs.readFileSync(report, "utf8").trim().split("\n");
      const [mode, file] = modeAndPath.split(" ");
      expect(mode).toBe("600");
      expect(content).toEqual(["apiVersion: v1", "kind: Config"]);
      expect(fs.existsSync(file)).toBe(false);
    },
    RUN_TIMEOUT_MS,
  );
});

describe("rollback.sh", () => {
  const NEXT = `${REPOSITORY}:9.9.9`;

  it(
    "after a failed rollout, returns to the revision that ran before, and a second run changes nothing",
    async () => {
      expect(await runScript("deploy.sh", cluster.env())).toMatchObject({ status: 0 });
      cluster.writeManifest(NEXT);
      const broken = { IMAGE_TAG: "9.9.9", FAKE_KUBECTL_BROKEN_IMAGE: NEXT };
      const failed = await runScript("deploy.sh", cluster.env(broken));
      expect(failed.status).toBe(1);
      expect(failed.stderr).toContain(`the rollout of ${NAMESPACE}/pyramidnet did not complete`);
      expect(fs.readFileSync(cluster.revisionsFile, "utf8")).toBe(`${NAMESPACE} pyramidnet 1\n`);
      expect(cluster.runningImage()).toBe(NEXT);

      const rollback = await runScript("rollback.sh", cluster.env(broken));
      expect(rollback).toMatchObject({ status: 0 });
      expect(rollback.stdout).toContain(`${NAMESPACE}/pyramidnet is at revision 2; returning to revision 1`);
      expect(cluster.callsOf("rollout").slice(-2)).toEqual([
        ["rollout", "undo", "deployment/pyramidnet", "--namespace", NAMESPACE, "--to-revision", "1"],
        ["rollout", "status", "deployment/pyramidnet", "--namespace", NAMESPACE, "--timeout", "10m"],
      ]);
      expect(cluster.runningImage()).toBe(`${REPOSITORY}:${RELEASED_TAG}`);

      const again = await runScript("rollback.sh", cluster.env(broken));
      expect(again).toMatchObject({ status: 0 });
      expect(again.stdout).toContain("is still at revision 3; nothing to undo");
      expect(cluster.callsOf("rollout").filter((call) => call[1] === "undo")).toHaveLength(1);
      expect(cluster.runningImage()).toBe(`${REPOSITORY}:${RELEASED_TAG}`);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "leaves alone a Deployment the failed apply did not change (a bare undo would go one release too far back)",
    async () => {
      expect(await runScript("deploy.sh", cluster.env())).toMatchObject({ status: 0 });
      cluster.writeManifest(NEXT);
      const refused = { IMAGE_TAG: "9.9.9", FAKE_KUBECTL_REFUSE_KIND: "Deployment" };
      const failed = await runScript("deploy.sh", cluster.env(refused));
      expect(failed.status).toBe(1);
      expect(failed.stderr).toContain("admission webhook");

      const rollback = await runScript("rollback.sh", cluster.env(refused));
      expect(rollback).toMatchObject({ status: 0 });
      expect(rollback.stdout).toContain(`${NAMESPACE}/pyramidnet is still at revision 1; nothing to undo`);
      expect(cluster.callsOf("rollout").filter((call) => call[1] === "undo")).toEqual([]);
      expect(cluster.runningImage()).toBe(`${REPOSITORY}:${RELEASED_TAG}`);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "says so when a first deploy fails: there is no earlier revision to return to",
    async () => {
      cluster.writeManifest(NEXT);
      const broken = { IMAGE_TAG: "9.9.9", FAKE_KUBECTL_BROKEN_IMAGE: NEXT };
      expect((await runScript("deploy.sh", cluster.env(broken))).status).toBe(1);
      const rollback = await runScript("rollback.sh", cluster.env(broken));
      expect(rollback).toMatchObject({ status: 0 });
      expect(rollback.stdout).toContain(`deployment ${NAMESPACE}/pyramidnet did not exist before this deploy`);
      expect(cluster.callsOf("rollout").filter((call) => call[1] === "undo")).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "does nothing when deploy.sh stopped before recording any revision",
    async () => {
      const rollback = await runScript("rollback.sh", cluster.env());
      expect(rollback).toMatchObject({ status: 0 });
      expect(rollback.stdout).toContain("stopped before applying any Deployment; nothing to undo");
      expect(cluster.calls()).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );
});
