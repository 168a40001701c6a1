/**
 * The demo page at / in a real browser: Debian's Chromium (never a downloaded one), driven by playwright-core,
 * against the service on a loopback port with the real model. Saves a screenshot; UPDATE_SCREENSHOT=1 writes it to docs/screenshot.png for the README.
 *
 * The project's tsconfig has no DOM library (the code runs on Node), so page-side callbacks reach browser
 * globals through the element they receive (element.ownerDocument.defaultView) rather than by name.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import sharp from "sharp";
import { createHttpServer } from "../../service/http/server";
import type { ModelCard } from "../../service/model/card";
import type { OnnxModel } from "../../service/model/onnx-model";
import { CARD_PATH, REPO, buildService, loadGolden, loadModelCard, loadRealModel, type FixtureImage, type TestService } from "../service/helpers";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
// The README's screenshot is refreshed on request (npm run screenshot), so a plain test run leaves no diff.
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? path.join(REPO, "docs", "screenshot.png")
  : path.join(os.tmpdir(), `pyramidnet-demo-${process.pid}.png`);

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  // Loud on purpose: a skipped browser test must not pass unnoticed. .ci/run installs Debian's chromium.
  process.stderr.write(
    `\n${"!".repeat(100)}\n!! SKIPPING the browser tests: ${CHROMIUM} is missing. Install it with: apt-get install -y chromium\n${"!".repeat(100)}\n\n`,
  );
}
const describeInBrowser = haveChromium ? describe : describe.skip;

describeInBrowser("demo page in Chromium", () => {
  let card: ModelCard;
  let model: OnnxModel;
  let browser: Browser;
  let page: Page;
  /** The fixture the served model classifies correctly with the highest confidence. */
  let fixture: FixtureImage;
  const servers: Server[] = [];
  /** Console errors and uncaught exceptions, CSP violations included. */
  const browserErrors: string[] = [];

  async function serve(service: TestService): Promise<string> {
    const server = createHttpServer(service.app, service.config);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  let ready: string;
  let notReady: string;
  let smallLimit: string;

  beforeAll(async () => {
    card = await loadModelCard(CARD_PATH);
    model = await loadRealModel(card);
    const service = buildService(card, model, { CLASSIFIER_LOG_LEVEL: "silent" });
    fixture = await bestClassifiedFixture(service);
    ready = await serve(service);
    notReady = await serve(buildService(card, model, { CLASSIFIER_LOG_LEVEL: "silent" }, { ready: false }));
    smallLimit = await serve(buildService(card, model, { CLASSIFIER_LOG_LEVEL: "silent", CLASSIFIER_MAX_REQUEST_SIZE: "4096" }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1040, height: 720 }, deviceScaleFactor: 1, colorScheme: "light" });
    page.on("console", (message) => {
      if (message.type() === "error") browserErrors.push(message.text());
    });
    page.on("pageerror", (error) => browserErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await model?.close();
    if (!process.env.UPDATE_SCREENSHOT) rmSync(SCREENSHOT, { force: true });
  });

  /** Picks the fixture by asking the served model, so the test follows the model rather than a guess. */
  async function bestClassifiedFixture(service: TestService): Promise<FixtureImage> {
    const images = loadGolden().images;
    const outcomes = await service.pipeline.classifyImages(
      images.map((i) => i.bytes),
      { topK: 1, deadline: performance.now() + 60_000 },
    );
    let best: { image: FixtureImage; confidence: number } | undefined;
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok || outcome.classification.prediction.label !== images[i].label) return;
      if (best === undefined || outcome.classification.prediction.confidence > best.confidence) {
        best = { image: images[i], confidence: outcome.classification.prediction.confidence };
      }
    });
    if (best === undefined) throw new Error("the model classifies none of the fixture images correctly");
    return best.image;
  }

  const status = () => page.locator("#status");
  const fixturePath = () => path.join(REPO, "__tests__", "fixtures", fixture.file);

  it("loads with its own script and styles only, a labelled file input and a link to /docs", async () => {
    const requested: string[] = [];
    const record = (req: { url(): string }) => requested.push(req.url());
    page.on("request", record);
    const response = await page.goto(`${ready}/`, { waitUntil: "networkidle" });
    page.off("request", record);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    await expect(page.title()).resolves.toContain(card.name);
    // The visible label names the file input (an accessible name, not a placeholder).
    await expect(page.getByLabel("Choose an image").getAttribute("type")).resolves.toBe("file");
    await expect(page.locator('a[href="/docs"]').textContent()).resolves.toMatch(/API documentation/);
    await expect(page.locator("#status").getAttribute("aria-live")).resolves.toBe("polite");
    // Everything the page loaded came from the service itself: no CDN.
    expect(requested.filter((url) => !url.startsWith(`${ready}/`) && !url.startsWith("data:"))).toEqual([]);
    expect(requested).toEqual(expect.arrayContaining([`${ready}/ui/app.js`, `${ready}/ui/app.css`]));
    await expect(page.locator("#max-size").textContent()).resolves.toBe("10 MiB");
  });

  it("reaches the drop zone with the keyboard and shows where focus is", async () => {
    await page.goto(`${ready}/`);
    const input = page.locator("#file");
    let focused = false;
    for (let i = 0; i < 10 && !focused; i++) {
      await page.keyboard.press("Tab");
      focused = await input.evaluate((element) => element === element.ownerDocument.activeElement);
    }
    expect(focused).toBe(true);
    const outline = await page.locator("#drop-zone").evaluate((zone) => zone.ownerDocument.defaultView.getComputedStyle(zone).outlineStyle);
    expect(outline).toBe("solid");
  });

  it("classifies a picked fixture image: shows it and the right label first among five bars", async () => {
    await page.goto(`${ready}/`);
    await page.setInputFiles("#file", fixturePath());
    await page.waitForSelector("#status.status-ok");
    await expect(status().textContent()).resolves.toContain(`Prediction: ${fixture.label}`);
    const labels = await page.locator("#top-k .score-label").allTextContents();
    expect(labels).toHaveLength(5);
    expect(labels[0]).toBe(fixture.label);
    // "12.3%", or "<0.1%" for the negligible.
    const texts = await page.locator("#top-k .score-value").allTextContents();
    for (const text of texts) expect(text).toMatch(/^(\d{1,3}\.\d%|<0\.1%)$/);
    const percents = texts.map((t) => (t === "<0.1%" ? 0 : Number.parseFloat(t)));
    expect([...percents].sort((a, b) => b - a)).toEqual(percents);
    expect(percents.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100.1);
    // Bars are as wide as their probability.
    const fill = await page.locator("#top-k .score-fill").first().boundingBox();
    const track = await page.locator("#top-k .score-bar").first().boundingBox();
    expect(Math.abs((fill!.width / track!.width) * 100 - percents[0])).toBeLessThan(1.5);
    // The picked image is shown, decoded by the browser.
    await page.waitForSelector("#preview-figure:not([hidden])");
    await expect(page.locator("#preview").evaluate((img) => img.naturalWidth)).resolves.toBeGreaterThan(0);

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });

  it("classifies an image dropped on the drop zone", async () => {
    await page.goto(`${ready}/`);
    const bytes = [...fixture.bytes];
    await page.locator("#drop-zone").evaluate((zone, data) => {
      const view = zone.ownerDocument.defaultView;
      const transfer = new view.DataTransfer();
      transfer.items.add(new view.File([new Uint8Array(data)], "dropped.jpg", { type: "image/jpeg" }));
      zone.dispatchEvent(new view.DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForSelector("#status.status-ok");
    await expect(page.locator("#top-k .score-label").first().textContent()).resolves.toBe(fixture.label);
  });

  it("says a text file is not an image, and shows no classes", async () => {
    await page.goto(`${ready}/`);
    await page.setInputFiles("#file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("This is a text file, not a picture.\n") });
    await page.waitForSelector("#status.status-error");
    const text = await status().textContent();
    expect(text).toMatch(/^Not an image: .*notes\.txt.*JPEG, PNG/);
    await expect(page.locator("#top-k").isHidden()).resolves.toBe(true);
    await expect(page.locator("#preview-figure").isHidden()).resolves.toBe(true);
  });

  it("refuses a file over the service's size limit before uploading it", async () => {
    await page.goto(`${smallLimit}/`);
    const noise = { type: "gaussian", mean: 128, sigma: 60 } as const;
    const large = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#808080", noise } }).png().toBuffer();
    expect(large.length).toBeGreaterThan(4096);
    const uploads: string[] = [];
    page.on("request", (req) => {
      if (req.url().includes("/predict")) uploads.push(req.url());
    });
    await page.setInputFiles("#file", { name: "noise.png", mimeType: "image/png", buffer: large });
    await page.waitForSelector("#status.status-error");
    await expect(status().textContent()).resolves.toMatch(/^Too large: noise\.png is \d+(\.\d)? KiB; the service accepts images up to 4 KiB\./);
    expect(uploads).toEqual([]);
  });

  it("says when the service is not ready, on load and on upload", async () => {
    await page.goto(`${notReady}/`);
    await page.locator("#status.status-error", { hasText: "The service is not ready yet" }).waitFor();
    await page.setInputFiles("#file", fixturePath());
    await page.locator("#status.status-error", { hasText: /^The service is not ready to classify images/ }).waitFor();
  });

  it("logged no console errors or CSP violations, apart from the failed requests it meant to make", () => {
    // Chromium logs every 4xx/5xx fetch as a console error; the page itself must log nothing else.
    const unexpected = browserErrors.filter((e) => !/^Failed to load resource: the server responded with a status of (415|503)/.test(e));
    expect(unexpected).toEqual([]);
  });
});
