// The escaping rule of flowmon/web/markup.py, for JavaScript that builds HTML (ECharts tooltips): every text
// that goes into such HTML passes through esc(), which replaces the characters that start or end markup with the
// entities Python's escape() uses.
const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" };

export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}
