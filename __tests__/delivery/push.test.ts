/**
 * push.sh hands the pushed digest on (GITHUB_OUTPUT `digest`, which the deploy jobs pass to synth.sh as
 * IMAGE_DIGEST), and refuses to hand on a tag alone. A fake `docker` on PATH records the push and reports the
 * RepoDigests a registry would have returned.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DIGEST, runScript } from "./harness";

const REPOSITORY = "registry.example.com/acme/pyramidnet";
const TAG = "3f2a1c9";
let dir: string;

/** Writes a fake docker that answers `inspect` with these RepoDigests and appends every call to docker.log. */
function fakeDocker(repoDigests: readonly string[]): Record<string, string> {
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    path.join(bin, "docker"),
    [
      "#!/usr/bin/env bash",
      `echo "$*" >>"${path.join(dir, "docker.log")}"`,
      'if [ "$1" = inspect ]; then',
      "  :",
      ...repoDigests.map((d) => `  echo "${d}"`),
      "fi",
    ].join("\n") + "\n",
    { mode: 0o755 },
  );
  const output = path.join(dir, "github-output");
  fs.writeFileSync(output, "");
  return { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, IMAGE_REPOSITORY: REPOSITORY, IMAGE_TAG: TAG, GITHUB_OUTPUT: output };
}

const githubOutput = () => fs.readFileSync(path.join(dir, "github-output"), "utf8");
const dockerCalls = () => fs.readFileSync(path.join(dir, "docker.log"), "utf8").trim().split("\n");

beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyramidnet-push-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("push.sh", () => {
  it(
    "pushes repository:tag and writes the digest of that repository (not another's) to GITHUB_OUTPUT",
    async () => {
      const other = `sha256:${"f".repeat(64)}`;
      const result = await runScript("push.sh", fakeDocker([`docker.io/acme/mirror@${other}`, `${REPOSITORY}@${DIGEST}`]));
      expect(result).toMatchObject({ status: 0 });
      expect(result.stdout).toContain(`pushed ${REPOSITORY}:${TAG} (${DIGEST})`);
      expect(githubOutput()).toBe(`digest=${DIGEST}\n`);
      expect(dockerCalls()[0]).toBe(`push ${REPOSITORY}:${TAG}`);
    },
    60_000,
  );

  it(
    "fails, and writes no digest, when docker reports none for the repository",
    async () => {
      const result = await runScript("push.sh", fakeDocker([]));
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`docker reports no digest of ${REPOSITORY}:${TAG} in ${REPOSITORY}`);
      expect(githubOutput()).toBe("");
    },
    60_000,
  );

  it(
    "fails, and writes no digest, when the digest is malformed",
    async () => {
      const result = await runScript("push.sh", fakeDocker([`${REPOSITORY}@sha256:short`]));
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('image digest "sha256:short" is not valid');
      expect(githubOutput()).toBe("");
    },
    60_000,
  );

  it(
    "refuses to push an image built from uncommitted changes",
    async () => {
      const result = await runScript("push.sh", { ...fakeDocker([]), IMAGE_TAG: `${TAG}-dirty` });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`refusing to push ${REPOSITORY}:${TAG}-dirty`);
      expect(fs.existsSync(path.join(dir, "docker.log"))).toBe(false);
    },
    60_000,
  );
});

describe("image-ref.sh", () => {
  it(
    "prints the reference to deploy, with the digest when one is given, and appends it to GITHUB_OUTPUT",
    async () => {
      const output = path.join(dir, "github-output");
      const result = await runScript("image-ref.sh", { IMAGE_REPOSITORY: REPOSITORY, IMAGE_TAG: TAG, IMAGE_DIGEST: DIGEST, GITHUB_OUTPUT: output });
      expect(result).toMatchObject({ status: 0, stderr: "" });
      const expected = [
        "deploy_environment=production",
        `image_repository=${REPOSITORY}`,
        `image_tag=${TAG}`,
        `image=${REPOSITORY}:${TAG}`,
        "image_registry=registry.example.com",
        `deploy_image=${REPOSITORY}:${TAG}@${DIGEST}`,
        `image_digest=${DIGEST}`,
      ];
      expect(result.stdout.trim().split("\n")).toEqual(expected);
      expect(fs.readFileSync(output, "utf8").trim().split("\n")).toEqual(expected);
    },
    60_000,
  );
});
