/**
 * smoke.sh against a stand-in for the Ingress on loopback: it must wait for readiness a bounded number of times,
 * send the committed fixture to /predict and check the label it gets back. The stand-in answers readiness as the
 * service's /v2/health/ready does (400 while not ready).
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { FakeCluster, REPO, REPOSITORY, RELEASED_TAG, runScript } from "./harness";

const RUN_TIMEOUT_MS = 60_000;
const FIXTURE = "__tests__/fixtures/cifar10/ship/0001.jpg";
const READY = "/v2/health/ready";
const fixtureBytes = fs.readFileSync(path.join(REPO, FIXTURE));

interface StandIn {
  /** 400 for this many readiness checks, then 200. */
  notReadyFor: number;
  /** The label /predict answers. */
  label: string;
}

/** What the stand-in received. */
interface Received {
  readonly method: string;
  readonly url: string;
  readonly fileUploaded: boolean;
}

let server: http.Server;
let received: Received[];
let standIn: StandIn;
let cluster: FakeCluster;

beforeEach(async () => {
  received = [];
  standIn = { notReadyFor: 0, label: "ship" };
  cluster = new FakeCluster();
  cluster.writeManifest(`${REPOSITORY}:${RELEASED_TAG}`);
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const fileUploaded =
        /^multipart\/form-data/.test(req.headers["content-type"] ?? "") &&
        body.includes('name="file"') &&
        body.includes(fixtureBytes);
      received.push({ method: req.method ?? "", url: req.url ?? "", fileUploaded });
      if (req.url === READY) {
        const ready = received.filter((r) => r.url === READY).length > standIn.notReadyFor;
        res.writeHead(ready ? 200 : 400, { "content-type": "application/json" }).end(JSON.stringify({ ready }));
      } else if (req.url === "/predict" && req.method === "POST" && fileUploaded) {
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            prediction: { label: standIn.label, index: 8, confidence: 0.91 },
            top_k: [{ label: standIn.label, index: 8, probability: 0.91 }],
            model: { name: "pyramidnet", version: RELEASED_TAG },
            latency_ms: 11,
          }),
        );
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
});

afterEach(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  cluster.remove();
});

const smoke = (settings: Record<string, string> = {}) =>
  runScript(
    "smoke.sh",
    cluster.env({
      SMOKE_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      SMOKE_INTERVAL_S: "0",
      SMOKE_ATTEMPTS: "5",
      SMOKE_TIMEOUT_S: "5",
      ...settings,
    }),
  );

describe("smoke.sh", () => {
  it(
    "waits until /v2/health/ready answers 200, then classifies the committed fixture once and checks its label",
    async () => {
      standIn.notReadyFor = 2;
      const result = await smoke();
      expect(result).toMatchObject({ status: 0 });
      expect(received).toEqual([
        { method: "GET", url: READY, fileUploaded: false },
        { method: "GET", url: READY, fileUploaded: false },
        { method: "GET", url: READY, fileUploaded: false },
        { method: "POST", url: "/predict", fileUploaded: true },
      ]);
      expect(result.stdout).toContain(`${READY}: 400 (try 1 of 5)`);
      expect(result.stdout).toContain("classified as ship (confidence 0.91) by pyramidnet");
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "gives up after SMOKE_ATTEMPTS readiness checks, without sending a prediction",
    async () => {
      standIn.notReadyFor = Number.POSITIVE_INFINITY;
      const result = await smoke({ SMOKE_ATTEMPTS: "4" });
      expect(result.status).toBe(1);
      expect(received.map((r) => r.url)).toEqual(Array(4).fill(READY));
      expect(result.stderr).toContain(`${READY} did not answer 200 after 4 tries`);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "stops retrying at SMOKE_DEADLINE_S even when attempts are left",
    async () => {
      standIn.notReadyFor = Number.POSITIVE_INFINITY;
      const result = await smoke({ SMOKE_ATTEMPTS: "100", SMOKE_INTERVAL_S: "1", SMOKE_DEADLINE_S: "2" });
      expect(result.status).toBe(1);
      // Tries at about 0 s, 1 s and 2 s at most; the next one would start past the deadline.
      expect(received.length).toBeGreaterThanOrEqual(1);
      expect(received.length).toBeLessThanOrEqual(3);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "fails when the prediction's label is not the fixture's class",
    async () => {
      standIn.label = "frog";
      const result = await smoke();
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('expected the label ship, got "frog"');
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "fails when nothing listens at the address, after the bounded tries",
    async () => {
      const result = await smoke({ SMOKE_BASE_URL: "http://127.0.0.1:9", SMOKE_ATTEMPTS: "2" });
      expect(result.status).toBe(1);
      expect(result.stdout).toContain(`${READY}: 000 (try 2 of 2)`);
      expect(received).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    "refuses, before sending anything, a readiness path the manifest's Ingress does not route",
    async () => {
      // Without SMOKE_BASE_URL the URL comes from the manifest (http://pyramidnet.localhost for development).
      const env = cluster.env({ SMOKE_READY_PATH: "/health/ready", SMOKE_ATTEMPTS: "1" });
      const result = await runScript("smoke.sh", env);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`the Ingress in ${cluster.manifest} does not route /health/ready`);
      expect(result.stdout).not.toContain("try 1");
    },
    RUN_TIMEOUT_MS,
  );
});
