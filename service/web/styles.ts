/** The demo page's stylesheet, served as /ui/app.css (kept in a TypeScript string for the same reason as the script). */
export const APP_STYLES = String.raw`:root {
  --bg: #f6f7f9;
  --panel: #ffffff;
  --text: #1b1f24;
  --muted: #57606a;
  --border: #d0d7de;
  --accent: #0b63ce;
  --accent-soft: #dbe9fb;
  --bar: #c8d1db;
  --ok: #116329;
  --error: #b42318;
  --error-soft: #fdecea;
  --focus: #0b63ce;
  color-scheme: light dark;
}

@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117;
    --panel: #161b22;
    --text: #e6edf3;
    --muted: #9198a1;
    --border: #30363d;
    --accent: #4493f8;
    --accent-soft: #132a4a;
    --bar: #30363d;
    --ok: #3fb950;
    --error: #ff7b72;
    --error-soft: #3a1618;
    --focus: #4493f8;
  }
}

* { box-sizing: border-box; }

body {
  margin: 0;
  background: var(--bg);
  color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}

.masthead, main, .footer {
  max-width: 960px;
  margin: 0 auto;
  padding: 0 1.25rem;
}

.masthead { padding-top: 2rem; }
h1 { font-size: 1.75rem; margin: 0 0 0.5rem; }
h2 { font-size: 1.125rem; margin: 0 0 1rem; }
.lede { margin: 0 0 0.75rem; color: var(--muted); max-width: 60ch; }
.lede strong { color: var(--text); }

nav { display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; margin-bottom: 1.5rem; }
a { color: var(--accent); text-underline-offset: 0.2em; }
a:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 2px; }

main {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(280px, 1fr));
  gap: 1.25rem;
  align-items: start;
}

.panel {
  background: var(--panel);
  border: 1px solid var(--border);
  border-radius: 12px;
  padding: 1.25rem;
}

.visually-hidden {
  position: absolute;
  width: 1px;
  height: 1px;
  margin: -1px;
  padding: 0;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
  border: 0;
}

.drop-zone {
  position: relative;
  border: 2px dashed var(--border);
  border-radius: 10px;
  text-align: center;
  transition: border-color 0.15s, background-color 0.15s;
}
.drop-zone:hover, .drop-zone.dragging { border-color: var(--accent); background: var(--accent-soft); }
/* The file input is visually hidden but keeps keyboard focus; the zone shows where focus is. */
.drop-zone:focus-within { outline: 3px solid var(--focus); outline-offset: 3px; border-color: var(--accent); }

.drop-label {
  display: flex;
  flex-direction: column;
  align-items: center;
  gap: 0.25rem;
  padding: 2rem 1rem 0.75rem;
  cursor: pointer;
}
.drop-title {
  display: inline-block;
  padding: 0.5rem 1.1rem;
  border-radius: 8px;
  background: var(--accent);
  color: #fff;
  font-weight: 600;
}
.drop-alt { color: var(--muted); }
.hint { margin: 0; padding: 0 1rem 1.25rem; font-size: 0.875rem; color: var(--muted); }

.preview { margin: 1rem 0 0; text-align: center; }
.preview img {
  max-width: 100%;
  width: 256px;
  height: auto;
  border-radius: 8px;
  border: 1px solid var(--border);
}
/* CIFAR-10 images are 32x32: keep their pixels crisp when enlarged (photos are scaled smoothly). */
.preview img.enlarged { image-rendering: pixelated; }
.preview figcaption { margin-top: 0.5rem; font-size: 0.875rem; color: var(--muted); overflow-wrap: anywhere; }

.status {
  min-height: 3rem;
  padding: 0.75rem 1rem;
  border-radius: 8px;
  border: 1px solid var(--border);
  color: var(--muted);
}
.status-ok { color: var(--ok); border-color: var(--ok); font-weight: 600; }
.status-error { color: var(--error); border-color: var(--error); background: var(--error-soft); }
.status-busy { color: var(--text); }

.top-k { list-style: none; margin: 1rem 0 0; padding: 0; display: grid; gap: 0.6rem; }
.score {
  display: grid;
  grid-template-columns: 7.5rem 1fr 4rem;
  align-items: center;
  gap: 0.75rem;
}
.score-label { font-weight: 500; }
.score-bar { height: 0.9rem; border-radius: 999px; background: var(--bar); overflow: hidden; }
.score-fill { display: block; height: 100%; border-radius: 999px; background: var(--muted); transition: width 0.3s ease-out; }
.score.best .score-fill { background: var(--accent); }
.score.best .score-label { font-weight: 700; }
.score-value { text-align: right; font-variant-numeric: tabular-nums; }

.footer { padding-top: 1.5rem; padding-bottom: 2rem; font-size: 0.875rem; color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85em; overflow-wrap: anywhere; }

@media (prefers-reduced-motion: reduce) {
  * { transition: none !important; }
}
`;
