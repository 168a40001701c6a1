/** Configuration validation and the model card's: every bad value is refused with its name and what is allowed. */
import { readFileSync } from "node:fs";
import { CONFIG_SCHEMA, loadConfig, renderEnvironment } from "../../service/config/schema";
import { ModelCardError, loadModelCard, parseModelCard } from "../../service/model/card";
import { CARD_PATH, configProblems } from "./helpers";

const problemsOf = configProblems;

describe("loadConfig", () => {
  it("uses the documented defaults when nothing is set", () => {
    const config = loadConfig({});
    expect(config.port).toBe(8000);
    expect(config.host).toBe("0.0.0.0");
    expect(config.maxRequestSize).toBe(10 * 1024 * 1024);
    expect(config.maxBatchFiles).toBe(32);
    expect(config.batchingEnabled).toBe(true);
  });

  it.each([
    ["CLASSIFIER_PORT", "http", "an integer from 1 to 65535"],
    ["CLASSIFIER_PORT", "70000", "an integer from 1 to 65535"],
    ["CLASSIFIER_LOG_LEVEL", "loud", "one of trace, debug, info, warn, error, fatal, silent"],
    ["CLASSIFIER_BATCHING_ENABLED", "maybe", "true or false"],
    ["CLASSIFIER_CORS_ORIGINS", "example.com", "a comma-separated list of origins"],
    ["CLASSIFIER_ORT_GRAPH_OPTIMIZATION", "max", "one of disabled, basic, extended, all"],
    ["CLASSIFIER_MAX_REQUEST_SIZE", "10MB", "an integer from 1024 to"],
  ])("refuses %s=%s, naming it and the allowed values", (name, value, allowed) => {
    const message = problemsOf({ [name]: value });
    expect(message).toContain(`${name}=${JSON.stringify(value)}`);
    expect(message).toContain(`expected ${allowed}`);
  });

  it.each(["staging", "eu-west-1", "preview-42", "a"])("accepts CLASSIFIER_ENVIRONMENT=%s, any DNS label", (name) => {
    expect(loadConfig({ CLASSIFIER_ENVIRONMENT: name }).environment).toBe(name);
  });

  it.each(["Staging", "-edge", "edge-", "eu_west", "a".repeat(64), "dev.local"])(
    "refuses CLASSIFIER_ENVIRONMENT=%s, which is no DNS label",
    (name) => {
      const message = problemsOf({ CLASSIFIER_ENVIRONMENT: name });
      expect(message).toContain(`CLASSIFIER_ENVIRONMENT=${JSON.stringify(name)}: expected a DNS label`);
    },
  );

  it("reports every bad variable at once", () => {
    const message = problemsOf({ CLASSIFIER_PORT: "x", CLASSIFIER_MAX_QUEUE: "-1" });
    expect(message).toContain("CLASSIFIER_PORT");
    expect(message).toContain("CLASSIFIER_MAX_QUEUE");
  });

  it("refuses a queue smaller than one batch request", () => {
    const message = problemsOf({ CLASSIFIER_MAX_QUEUE: "8", CLASSIFIER_MAX_BATCH_FILES: "16" });
    expect(message).toContain('CLASSIFIER_MAX_QUEUE="8": expected at least CLASSIFIER_MAX_BATCH_FILES (16)');
  });

  it("serves gRPC on 8001 by default; refuses the HTTP port for it unless gRPC is off", () => {
    expect([loadConfig({}).grpcEnabled, loadConfig({}).grpcPort]).toEqual([true, 8001]);
    const message = problemsOf({ CLASSIFIER_PORT: "9000", CLASSIFIER_GRPC_PORT: "9000" });
    expect(message).toContain('CLASSIFIER_GRPC_PORT="9000": expected a port other than CLASSIFIER_PORT (9000), or CLASSIFIER_GRPC_ENABLED=false');
    expect(loadConfig({ CLASSIFIER_PORT: "9000", CLASSIFIER_GRPC_PORT: "9000", CLASSIFIER_GRPC_ENABLED: "false" }).grpcEnabled).toBe(false);
  });

  it("round-trips every default through renderEnvironment", () => {
    const env = renderEnvironment();
    expect(Object.keys(env).sort()).toEqual(Object.values(CONFIG_SCHEMA).map((s) => s.name).sort());
    expect(loadConfig(env)).toEqual(loadConfig({}));
  });
});

describe("model card", () => {
  it("loads the committed card", async () => {
    const card = await loadModelCard(CARD_PATH);
    expect(card.labels).toHaveLength(card.output.shape[1]);
    expect(card.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(card.input.shape.slice(2)).toEqual([card.preprocessing.resize.height, card.preprocessing.resize.width]);
  });

  it.each([
    ["sha256", (c: Record<string, unknown>) => ({ ...c, sha256: "abc" }), /"sha256" must be 64 hexadecimal digits/],
    ["labels", (c: Record<string, unknown>) => ({ ...c, labels: ["only"] }), /"labels" must be/],
    ["std", (c: Record<string, unknown>) => withPre(c, { std: [0.2, 0, 0.2] }), /"preprocessing.std\[1\]" must be a positive number/],
    ["kernel", (c: Record<string, unknown>) => withPre(c, { resize: { width: 32, height: 32, kernel: "bogus" } }), /preprocessing.resize.kernel/],
    ["size", (c: Record<string, unknown>) => withPre(c, { resize: { width: 64, height: 64 } }), /"input.shape" must be \[-1, 3, 64, 64\]/],
  ])("refuses a bad %s, naming the field", (_field, mutate, expected) => {
    const card = JSON.parse(readFileSync(CARD_PATH, "utf8")) as Record<string, unknown>;
    expect(() => parseModelCard(mutate(card), "card.json")).toThrow(ModelCardError);
    expect(() => parseModelCard(mutate(card), "card.json")).toThrow(expected);
  });

  it("refuses a missing card file, naming it", async () => {
    await expect(loadModelCard("/nonexistent/card.json")).rejects.toThrow(/\/nonexistent\/card.json: cannot be read \(ENOENT\)/);
  });
});

function withPre(card: Record<string, unknown>, change: Record<string, unknown>): Record<string, unknown> {
  return { ...card, preprocessing: { ...(card["preprocessing"] as object), ...change } };
}
