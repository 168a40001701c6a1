/**
 * The demo page's HTML. Rendered once at start from the model description and the configured body limit, so
 * the page names the model it talks to and refuses an oversized file before uploading it.
 *
 * No inline script or style: the page loads /ui/app.js and /ui/app.css from this service, so the service's
 * Content-Security-Policy (script-src 'self') applies unchanged, and nothing comes from a CDN.
 */
import type { ModelDescription } from "../pipeline/classifier";
import { escapeHtml } from "../http/html";

export const SCRIPT_PATH = "/ui/app.js";
export const STYLES_PATH = "/ui/app.css";

export interface PageOptions {
  readonly model: ModelDescription;
  /** CLASSIFIER_MAX_REQUEST_SIZE: larger files are refused in the browser with the same message as a 413. */
  readonly maxRequestSize: number;
  /** Classes shown, most probable first. */
  readonly topK: number;
}

export function renderIndexPage({ model, maxRequestSize, topK }: PageOptions): string {
  const name = escapeHtml(model.name);
  const version = escapeHtml(model.version);
  const labels = model.labels.map(escapeHtml).join(", ");
  const description = model.description === "" ? "" : ` ${escapeHtml(model.description)}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>${name} image classifier</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="${STYLES_PATH}">
  <script src="${SCRIPT_PATH}" defer></script>
</head>
<body>
  <header class="masthead">
    <h1>${name} image classifier</h1>
    <p class="lede">Sorts a picture into one of ${model.labels.length} classes: ${labels}.${description}
      Model <strong>${name} ${version}</strong>, run by ONNX Runtime in this service.</p>
    <nav aria-label="API">
      <a href="/docs">API documentation</a>
      <a href="/openapi.json">OpenAPI document</a>
      <a href="/v2/models/${encodeURIComponent(model.name)}">Open Inference Protocol metadata</a>
    </nav>
  </header>

  <main id="app" data-max-bytes="${maxRequestSize}" data-top-k="${topK}">
    <section class="panel" aria-labelledby="pick-heading">
      <h2 id="pick-heading">Image</h2>
      <div class="drop-zone" id="drop-zone">
        <input type="file" id="file" name="file" accept="image/*" aria-describedby="file-hint" class="visually-hidden">
        <label for="file" class="drop-label">
          <span class="drop-title">Choose an image</span>
          <span class="drop-alt">or drop one here</span>
        </label>
        <p id="file-hint" class="hint">JPEG, PNG, WebP, GIF, TIFF or AVIF, up to <span id="max-size">${maxRequestSize} bytes</span>.
          Focus this box and press Enter or Space to browse; you can also paste an image.</p>
      </div>
      <figure id="preview-figure" class="preview" hidden>
        <img id="preview" alt="">
        <figcaption id="preview-caption"></figcaption>
      </figure>
    </section>

    <section class="panel" aria-labelledby="result-heading">
      <h2 id="result-heading">Prediction</h2>
      <div id="status" class="status" role="status" aria-live="polite" aria-atomic="true">Pick an image to classify it.</div>
      <ol id="top-k" class="top-k" aria-label="Most probable classes" hidden></ol>
    </section>
  </main>

  <footer class="footer">
    <p>Images are sent to <code>POST /predict</code> on this service and are not stored.
      From a terminal: <code id="curl-example">curl -F file=@cat.jpg /predict</code></p>
  </footer>
</body>
</html>
`;
}
