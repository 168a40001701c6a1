/**
 * The demo page's script, served as /ui/app.js. Plain ES2020 for the browser, no framework and no build step.
 * It is kept in a TypeScript string so `tsc` carries it into build/ and the image (the build stage runs only
 * tsc); it is therefore written without template literals. __tests__/browser drives every path in Chromium.
 *
 * Flow: a file arrives (picker, drop or paste) -> preview -> size check against the service's limit ->
 * POST /predict?top_k=N -> top-k bars, or a message that says what went wrong and what to do.
 */
export const APP_SCRIPT = String.raw`(function () {
  "use strict";

  var app = document.getElementById("app");
  var maxBytes = Number(app.dataset.maxBytes);
  var topK = Number(app.dataset.topK) || 5;
  var input = document.getElementById("file");
  var zone = document.getElementById("drop-zone");
  var status = document.getElementById("status");
  var list = document.getElementById("top-k");
  var figure = document.getElementById("preview-figure");
  var preview = document.getElementById("preview");
  var caption = document.getElementById("preview-caption");
  var generation = 0;
  var inflight = null;

  document.getElementById("max-size").textContent = formatBytes(maxBytes);
  document.getElementById("curl-example").textContent =
    "curl -F file=@cat.jpg " + window.location.origin + "/predict";

  input.addEventListener("change", function () {
    if (input.files && input.files.length > 0) classify(input.files[0]);
  });

  zone.addEventListener("dragenter", onDragOver);
  zone.addEventListener("dragover", onDragOver);
  zone.addEventListener("dragleave", function (event) {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("dragging");
    var files = event.dataTransfer ? event.dataTransfer.files : null;
    if (files && files.length > 0) classify(files[0]);
    else say("error", "Drop an image file here (not a link or text).");
  });
  // A file dropped beside the zone must not make the browser leave the page to open it.
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });

  document.addEventListener("paste", function (event) {
    var files = event.clipboardData ? event.clipboardData.files : null;
    if (files && files.length > 0) classify(files[0]);
  });

  checkReadiness();

  function onDragOver(event) {
    if (!event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") < 0) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("dragging");
  }

  function checkReadiness() {
    fetch("/health/ready", { headers: { Accept: "application/json" } })
      .then(function (response) {
        // Read the body even though only the status matters, so the request completes.
        return response.text().then(function () {
          if (!response.ok && generation === 0) {
            say("error", "The service is not ready yet: the model is loading or the service is shutting down. " +
              "You can pick an image now and try again in a few seconds.");
          }
        });
      })
      .catch(function () { /* the upload reports unreachable services */ });
  }

  function classify(file) {
    var mine = ++generation;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    showPreview(file);
    clearResult();
    if (file.size === 0) {
      say("error", "Empty file: " + file.name + " has no content. Pick an image file.");
      return;
    }
    if (file.size > maxBytes) {
      say("error", tooLarge(file));
      return;
    }
    say("busy", "Classifying " + file.name + "...");
    var body = new FormData();
    body.append("file", file, file.name);
    fetch("/predict?top_k=" + topK, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      signal: inflight.signal
    })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (payload) {
          if (mine !== generation) return;
          if (response.ok && payload && payload.prediction) showResult(file, payload);
          else say("error", explain(response, payload, file));
        });
      })
      .catch(function (error) {
        if (mine !== generation || (error && error.name === "AbortError")) return;
        say("error", "Could not reach the service (" + (error && error.message ? error.message : "network error") +
          "). Check your connection and try again.");
      });
  }

  function explain(response, payload, file) {
    var detail = payload && payload.error && payload.error.message ? payload.error.message : "";
    var retry = response.headers.get("Retry-After");
    var later = retry ? "Try again in " + retry + " s." : "Try again shortly.";
    switch (response.status) {
      case 413:
        return tooLarge(file);
      case 415:
        return "Not an image: the service cannot read " + file.name + " as an image. " +
          "Pick a JPEG, PNG, WebP, GIF, TIFF or AVIF file.";
      case 422:
        return "Image rejected: " + (detail || "the image is empty or has too many pixels.");
      case 429:
        return "Too many requests from this address. " + later;
      case 503:
        return "The service is not ready to classify images: the model is loading, or the service is busy or " +
          "shutting down. " + later;
      case 504:
        return "The prediction took too long. " + later;
      default:
        var id = response.headers.get("X-Request-Id");
        return "The service answered " + response.status + (detail ? ": " + detail : ".") +
          (id ? " Request id: " + id + "." : "");
    }
  }

  function tooLarge(file) {
    return "Too large: " + file.name + " is " + formatBytes(file.size) + "; the service accepts images up to " +
      formatBytes(maxBytes) + ". Pick a smaller image.";
  }

  function showPreview(file) {
    figure.hidden = true;
    preview.removeAttribute("src");
    if (file.size > maxBytes || !/^image\//.test(file.type)) return;
    var reader = new FileReader();
    var mine = generation;
    reader.onload = function () {
      if (mine !== generation) return;
      preview.src = String(reader.result);
      preview.alt = "The picked image, " + file.name;
      caption.textContent = file.name + ", " + formatBytes(file.size);
    };
    reader.readAsDataURL(file);
    // Shown once the browser could decode it; a format it cannot display (TIFF) simply has no preview.
    preview.onload = function () {
      if (mine !== generation) return;
      preview.classList.toggle("enlarged", preview.naturalWidth < 256);
      figure.hidden = false;
    };
    preview.onerror = function () { figure.hidden = true; };
  }

  function clearResult() {
    list.hidden = true;
    list.textContent = "";
  }

  function showResult(file, payload) {
    var best = payload.prediction;
    say("ok", "Prediction: " + best.label + " (" + percent(best.confidence) + " probability).");
    payload.top_k.forEach(function (score, rank) {
      var item = document.createElement("li");
      item.className = rank === 0 ? "score best" : "score";
      var label = document.createElement("span");
      label.className = "score-label";
      label.textContent = score.label;
      var bar = document.createElement("span");
      bar.className = "score-bar";
      bar.setAttribute("aria-hidden", "true");
      var fill = document.createElement("span");
      fill.className = "score-fill";
      fill.style.width = Math.max(0.5, score.probability * 100).toFixed(1) + "%";
      bar.appendChild(fill);
      var value = document.createElement("span");
      value.className = "score-value";
      value.textContent = percent(score.probability);
      item.append(label, bar, value);
      list.appendChild(item);
    });
    list.hidden = false;
    if (payload.model) {
      caption.textContent = file.name + ", " + formatBytes(file.size) + " - " + payload.model.name + " " +
        payload.model.version + ", " + payload.latency_ms + " ms";
    }
  }

  function say(kind, text) {
    status.className = "status status-" + kind;
    status.textContent = text;
  }

  function percent(p) {
    return p < 0.0005 ? "<0.1%" : (p * 100).toFixed(1) + "%";
  }

  function formatBytes(bytes) {
    var units = ["bytes", "KiB", "MiB", "GiB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return (unit === 0 ? String(value) : value.toFixed(value < 10 && value % 1 !== 0 ? 1 : 0)) + " " + units[unit];
  }
})();
`;
