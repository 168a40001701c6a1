/**
 * The image's HEALTHCHECK script against small loopback servers.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { CONFIG_SCHEMA, ConfigError } from "../../service/config/schema";
import { HTTP_CONTRACT } from "../../service/contract/http";
import { probe, probeTarget } from "../../scripts/image/healthcheck";

const servers: http.Server[] = [];

function serve(handler: http.RequestListener): Promise<number> {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    servers.push(server);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(resolve));
    }),
  );
});

describe("healthcheck probeTarget", () => {
  it("probes the liveness path on the configured port, through loopback when the service binds every interface", () => {
    expect(probeTarget({ CLASSIFIER_PORT: "9123" })).toEqual({
      host: "127.0.0.1",
      port: 9123,
      path: HTTP_CONTRACT.probes.live,
      timeoutMs: 3000,
    });
    expect(probeTarget({}).port).toBe(CONFIG_SCHEMA.port.default);
    expect(probeTarget({ CLASSIFIER_HOST: "::" }).host).toBe("127.0.0.1");
    expect(probeTarget({ CLASSIFIER_HOST: "127.0.0.2" }).host).toBe("127.0.0.2");
  });

  it("refuses an environment the service would refuse", () => {
    expect(() => probeTarget({ CLASSIFIER_PORT: "http" })).toThrow(ConfigError);
  });
});

describe("healthcheck probe", () => {
  it("is healthy only when the liveness path answers 200", async () => {
    const seen: string[] = [];
    const port = await serve((req, res) => {
      seen.push(req.url ?? "");
      res.statusCode = req.url === HTTP_CONTRACT.probes.live ? 200 : 404;
      res.end();
    });
    expect(await probe(probeTarget({ CLASSIFIER_PORT: String(port) }))).toBe(true);
    expect(await probe({ ...probeTarget({ CLASSIFIER_PORT: String(port) }), path: "/elsewhere" })).toBe(false);
    expect(seen).toEqual([HTTP_CONTRACT.probes.live, "/elsewhere"]);
  });

  it("is unhealthy on a 503", async () => {
    const port = await serve((_req, res) => {
      res.statusCode = 503;
      res.end("draining");
    });
    expect(await probe(probeTarget({ CLASSIFIER_PORT: String(port) }))).toBe(false);
  });

  it("is unhealthy when nothing listens", async () => {
    const port = await serve(() => undefined);
    await new Promise((resolve) => servers.pop()?.close(resolve));
    expect(await probe(probeTarget({ CLASSIFIER_PORT: String(port) }))).toBe(false);
  });

  it("gives up on a service that accepts but never answers, within its timeout", async () => {
    const port = await serve(() => undefined);
    const started = Date.now();
    expect(await probe(probeTarget({ CLASSIFIER_PORT: String(port) }, 200))).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
