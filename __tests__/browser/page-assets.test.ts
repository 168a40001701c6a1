/**
 * How / and its assets are served, without a browser: content types, caching, the CSP the page must live
 * under, and the configured limit and model it shows. The behaviour in a browser is demo-page.test.ts.
 */
import request from "supertest";
import type { ModelCard } from "../../service/model/card";
import type { InferenceModel } from "../../service/model/onnx-model";
import { CARD_PATH, buildService, loadModelCard, type TestService } from "../service/helpers";

/** The page never reaches the model; a model that fails if it does keeps these tests fast. */
const unusedModel: InferenceModel = {
  run: () => Promise.reject(new Error("the page tests must not run inference")),
  close: () => Promise.resolve(),
};

let card: ModelCard;
let service: TestService;

beforeAll(async () => {
  card = await loadModelCard(CARD_PATH);
  service = buildService(card, unusedModel, { CLASSIFIER_MAX_REQUEST_SIZE: "2097152" });
});

describe("GET /", () => {
  it("serves the page under the service's CSP, with no inline script and no remote resource", async () => {
    const res = await request(service.app).get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html; charset=utf-8/);
    const csp = res.headers["content-security-policy"];
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    // Every <script> has a src (inline script would be blocked), and every src/href is local.
    const scripts = [...res.text.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const attributes of scripts) expect(attributes).toMatch(/\bsrc="\/[^/]/);
    expect(res.text).not.toMatch(/\son[a-z]+="/);
    const urls = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(urls.filter((url) => !url.startsWith("/") && !url.startsWith("data:"))).toEqual([]);
    expect(urls).toEqual(expect.arrayContaining(["/docs", "/ui/app.js", "/ui/app.css"]));
  });

  it("names the model and carries the configured body limit for the size check in the browser", async () => {
    const res = await request(service.app).get("/");
    expect(res.text).toContain(`${card.name} ${card.version}`);
    expect(res.text).toContain('data-max-bytes="2097152"');
    expect(res.text).toMatch(/<label for="file"[^>]*>[\s\S]*Choose an image/);
    expect(res.text).toMatch(/<input type="file" id="file"/);
    expect(res.text).toMatch(/role="status" aria-live="polite"/);
  });

  it("serves the script and stylesheet with their types, and answers revalidation with 304", async () => {
    for (const [path, type] of [["/ui/app.js", /^text\/javascript/], ["/ui/app.css", /^text\/css/], ["/", /^text\/html/]] as const) {
      const first = await request(service.app).get(path);
      expect([path, first.status]).toEqual([path, 200]);
      expect(first.headers["content-type"]).toMatch(type);
      expect(first.headers["cache-control"]).toBe("no-cache");
      expect(first.headers.etag).toEqual(expect.any(String));
      const again = await request(service.app).get(path).set("If-None-Match", first.headers.etag);
      expect([path, again.status]).toEqual([path, 304]);
    }
  });

  it("answers HEAD, and 405 JSON with Allow to other methods", async () => {
    expect((await request(service.app).head("/")).status).toBe(200);
    const res = await request(service.app).post("/").send("x");
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("GET, HEAD");
    expect(res.body).toEqual({ error: { code: "method_not_allowed", message: expect.any(String) } });
  });

  it("leaves other unknown paths to the service's 404", async () => {
    const res = await request(service.app).get("/ui/other.js");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  });
});
