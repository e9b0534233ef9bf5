// The DAG canvas in the browser: an ECharts instance built once from the `options` prop, drawn from a snapshot
// and then patched with the node items that changed (see dag_chart.py), so ten updates a second cost a few
// hundred bytes on the websocket, not the whole node list. Node names and types arrive once (the `text` prop);
// the tooltip and the card label are formatted here from them and each item's status (`s`), card line (`m`) and
// slow flag (`w`, the text saying how much slower than usual).
import chart from "fm-chart";
import { esc } from "fm-escape";
import { characters, cutTo } from "fm-names";
import patched from "fm-patched";

// Text that cannot break out of an ECharts rich-text block ({style|text}).
export function richSafe(text) {
  return String(text).replace(/[{]/g, "(").replace(/[}]/g, ")").replace(/[|]/g, "/");
}

// A name cut in its middle to what fits on a card of `width` px (see fm-names.js).
export function clip(text, width) {
  return cutTo(text, Math.max(6, Math.floor(width / 7.2)));
}

// A name on at most `lines` lines of a card of `width` px: broken after the last word that fits on the first line
// (inside a word when no space falls in the line's second half), the rest on the second, cut in its middle there.
export function wrap(text, width, lines = 1) {
  const chars = characters(text);
  const limit = Math.max(6, Math.floor(width / 7.2));
  if (lines < 2 || chars.length <= limit) return [clip(text, width)];
  let cut = limit;
  for (let i = limit; i >= Math.ceil(limit / 2); i--) {
    if (/\s/.test(chars[i])) {
      cut = i;
      break;
    }
  }
  const first = chars.slice(0, cut).join("").trimEnd();
  return [first, clip(chars.slice(cut).join("").trimStart(), width)];
}

// The tooltip is HTML to ECharts: every text in it goes through esc().
export function tooltip({ names, types, colors }) {
  return (p) => {
    const d = p.data || {};
    const id = d.name;
    const name = names[id] || id;
    const status = d.s || "pending";
    const title = name === id ? esc(name) : `${esc(name)} <span style="opacity:.6">${esc(id)}</span>`;
    const kind = types[id] && d.m !== types[id] ? ` · ${esc(types[id])}` : ""; // a workflow's card line is the type
    const color = esc(colors[status] || colors.pending);
    const slow = d.w ? `<br/><span style="color:#d97706">▲</span> ${esc(d.w)}` : "";
    return `<b>${title}</b><br/><span style="color:${color}">●</span> ${esc(d.m || status)}${kind}${slow}`;
  };
}

// The card's lines: the name, on as many lines as it may take (`lines`) and clipped, and the card line, all as rich
// text.
export function label({ names, card, lines = 1 }) {
  const shown = {};
  for (const [id, name] of Object.entries(names)) {
    shown[id] = wrap(name, card, lines)
      .map((line) => `{name|${richSafe(line)}}`)
      .join("\n");
  }
  return (p) => `${shown[p.data.name] ?? `{name|${richSafe(p.data.name)}}`}\n{meta|${richSafe(p.data.m || "pending")}}`;
}

// Zoomed out below the zoom from which the cards show their names and card lines (`labelZoom`), where those would be
// smudges, a card shows its name alone, short, in a font that stays SHORT_PX high on the screen (as far as the card
// holds it, and at least SHORT_LEAST_PX), cut at its end to SHORT_CHARS characters or more: the card's colour says
// its status, the tooltip names it whole (as Dagster's asset graph does zoomed out). Smaller still, the card is its
// colour alone.
const SHORT_PX = 11;
const SHORT_LEAST_PX = 9;
const SHORT_CHARS = 6;
const SHORT_HEIGHT_SHARE = 0.8; // of the card's height, the short name's font takes this much at the most
const SHORT_PADDING = 6; // px of the card's width left free on either side of its short name
const CHAR_EM = 0.6; // a character of a name is this many times its font's size wide, on average (7.2 px at 12 px)

// The short names' font size (px of the unzoomed card) and how many characters fit, on cards of `card` px ([width,
// height]) at `zoom`; null where no short name can be read.
export function shortName(zoom, [width, height]) {
  const room = width - 2 * SHORT_PADDING;
  const largest = Math.min(height * SHORT_HEIGHT_SHARE, room / (SHORT_CHARS * CHAR_EM));
  const font = Math.floor(Math.min(SHORT_PX / zoom, largest));
  if (!(zoom > 0) || font * zoom < SHORT_LEAST_PX) return null;
  return { font, chars: Math.floor(room / (font * CHAR_EM)) };
}

// A name cut to `limit` characters at the most at its end: with the few characters of a short name, its start is
// what a reader knows it by ("Validat…", where the middle cut says "Val…nes").
function start(text, limit) {
  const chars = characters(text);
  return chars.length <= limit
    ? text
    : `${chars
        .slice(0, limit - 1)
        .join("")
        .trimEnd()}…`;
}

// The card's short name (see shortName's `chars`), as rich text.
export function shortLabel({ names }, { chars }) {
  const shown = {};
  for (const [id, name] of Object.entries(names)) shown[id] = `{short|${richSafe(start(name, chars))}}`;
  return (p) => shown[p.data.name] ?? `{short|${richSafe(start(p.data.name, chars))}}`;
}

const TIP_GAP = 14; // screen px between the pointer and the tooltip

// Where the node tooltip goes, in the chart's own px (ECharts maps them through the viewport's zoom `k`). The
// tooltip itself is drawn at its own size (it lives in the page's body), `size` screen px: it sits TIP_GAP screen
// px right of and below the pointer, flips to the other side where the visible box `view` (the viewport's part of
// the chart, in chart px) has no room, and stays inside that box as far as it fits.
export function tipPosition(point, size, view) {
  const place = (at, length, low, high) => {
    const gap = TIP_GAP / view.k;
    const extent = length / view.k;
    const after = at + gap;
    const before = at - gap - extent;
    const chosen = after + extent <= high || before < low ? after : before;
    return Math.max(low, Math.min(chosen, high - extent));
  };
  return [place(point[0], size[0], view.left, view.right), place(point[1], size[1], view.top, view.bottom)];
}

// The part of the chart `dom` that is on screen (inside its viewport and the window), in chart px, and the zoom.
function visibleBox(dom) {
  const box = dom.getBoundingClientRect();
  const k = box.width / Math.max(dom.offsetWidth, 1) || 1;
  const frame = (dom.closest(".fm-viewport") || dom).getBoundingClientRect();
  const left = Math.max(frame.left, 0);
  const top = Math.max(frame.top, 0);
  const right = Math.min(frame.right, window.innerWidth);
  const bottom = Math.min(frame.bottom, window.innerHeight);
  return {
    k,
    left: (left - box.left) / k,
    top: (top - box.top) / k,
    right: (right - box.left) / k,
    bottom: (bottom - box.top) / k,
  };
}

const NAMED_AROUND = 2; // the cards named are those within twice the visible part of the canvas (half of it around)
const NAMED_ALWAYS = 60; // ... in a graph of more nodes than this; a smaller one names all its cards
const EVERYWHERE = { x0: -Infinity, x1: Infinity, y0: -Infinity, y1: Infinity };

// The box of the chart (in layout units) that is NAMED_AROUND times the visible part `view` (in chart px), about it.
function nearBox(chart, view) {
  const w = ((NAMED_AROUND - 1) / 2) * (view.right - view.left);
  const h = ((NAMED_AROUND - 1) / 2) * (view.bottom - view.top);
  const [x0, y0] = chart.convertFromPixel({ gridIndex: 0 }, [view.left - w, view.top - h]);
  const [x1, y1] = chart.convertFromPixel({ gridIndex: 0 }, [view.right + w, view.bottom + h]);
  return { x0: Math.min(x0, x1), x1: Math.max(x0, x1), y0: Math.min(y0, y1), y1: Math.max(y0, y1) };
}

// Whether the point `value` ([x, y] in layout units) is inside `box` (null: nothing is).
export function inBox(value, box) {
  return box != null && value[0] >= box.x0 && value[0] <= box.x1 && value[1] >= box.y0 && value[1] <= box.y1;
}

const HALO_PX = 10; // how much wider and taller than its card the still halo of a running node is

// The canvas's moving parts, the dots flowing along an edge that data just took and the ripple around a running
// node's card, as series patches (merged by id) for a visitor who asked for less motion (`still`: the browser's
// prefers-reduced-motion) or not. Still, an edge that data took stays drawn in the flow's colour, without its dot,
// and a running card gets a halo of its status colour, unmoving. (Each effect also costs a frame a tick: ECharts
// redraws the canvas's SVG 60 times a second while one runs.) `card`: a node card's [width, height] in px.
export function motion([width, height], still) {
  return [
    { id: "flow", effect: { show: !still } },
    {
      id: "pulse",
      showEffectOn: still ? "emphasis" : "render",
      symbolSize: still ? [width + HALO_PX, height + HALO_PX] : [width, height],
      itemStyle: { opacity: still ? 0.45 : 1 },
    },
  ];
}

// The tooltip's glide from one card to the next: none for a visitor who asked for less motion (ECharts' 0.4 s else).
function glide(still) {
  return { transitionDuration: still ? 0 : 0.4 };
}

// A series' options with `patch` (one level of objects deep: a patch's effect or itemStyle keeps the series' others).
function merged(entry, patch) {
  if (!patch) return entry;
  const out = { ...entry };
  for (const [key, value] of Object.entries(patch)) {
    out[key] = value && typeof value === "object" && !Array.isArray(value) ? { ...entry[key], ...value } : value;
  }
  return out;
}

// A node item with its name drawn on its card (the series draws none by default).
function withName(item) {
  return { ...item, label: { show: true }, emphasis: { label: { show: true } } };
}

// Node items come from Python with itemStyle as [key, value] pairs (see DagView._node_item).
function nodeItem(item) {
  if (Array.isArray(item.itemStyle)) item.itemStyle = Object.fromEntries(item.itemStyle);
  return item;
}

export default {
  mixins: [patched, chart],
  template: "<div></div>",
  props: { options: String, text: String },
  beforeUnmount() {
    this.viewport?.removeEventListener("fm-view", this.onView);
    this.reduced?.removeEventListener?.("change", this.onMotion);
  },
  methods: {
    async prepare() {
      const options = JSON.parse(this.options);
      const text = JSON.parse(this.text);
      const nodes = options.series.find((entry) => entry.id === "nodes");
      nodes.tooltip = {
        ...nodes.tooltip,
        formatter: tooltip(text),
        position: (point, _params, _dom, _rect, size) => tipPosition(point, size.contentSize, visibleBox(this.$el)),
      };
      this.series = {};
      this.dirty = new Set();
      // names on the cards only from the zoom `labelZoom` on, where they can be read (dag_view.py's LABEL_ZOOM), and
      // only on the cards in or near view: the viewport says when its view moved with "fm-view"
      this.viewport = this.$el.closest(".fm-viewport");
      if (text.card) {
        nodes.label = { ...nodes.label, formatter: label(text), show: false };
        nodes.emphasis = { ...nodes.emphasis, label: { show: false } };
        this.names = text;
        this.fullLabel = { formatter: nodes.label.formatter, rich: nodes.label.rich };
        this.cardSize = [text.card, nodes.symbolSize[1]];
        this.short = null; // the short names' {font, chars} while they are drawn
        this.labelZoom = text.labelZoom || 0;
        this.named = [];
        this.onView = () => this.viewed();
        this.viewport?.addEventListener("fm-view", this.onView);
      }
      // On a screen without hover a card's tooltip is not shown: the tap that would show it opens the node's
      // inspector, which says all it says, and the tooltip ECharts placed for a tap on a panned canvas reached past
      // a phone's screen (the page grew wider by it, hidden or not)
      if (window.matchMedia?.("(hover: none)").matches) options.tooltip = { ...options.tooltip, showContent: false };
      // less motion when the visitor asks for it, from the first frame, and as soon as they change their mind
      const reduced = window.matchMedia?.("(prefers-reduced-motion: reduce)");
      const moving = (still) => motion(nodes.symbolSize, still);
      const patches = Object.fromEntries(moving(Boolean(reduced?.matches)).map((patch) => [patch.id, patch]));
      options.series = options.series.map((entry) => merged(entry, patches[entry.id]));
      options.tooltip = { ...options.tooltip, ...glide(Boolean(reduced?.matches)) };
      this.onMotion = (change) => {
        if (!this.chart) return;
        // (ECharts starts or stops an item's effect as it draws the item: the moving parts are drawn anew)
        const series = moving(change.matches).map((patch) => ({ ...patch, data: this.series[patch.id] ?? [] }));
        this.chart.setOption({ series: series.map(({ id }) => ({ id, data: [] })) });
        this.chart.setOption({ series, tooltip: glide(change.matches) });
      };
      reduced?.addEventListener?.("change", this.onMotion);
      this.reduced = reduced;
      const built = await this.startChart(options, "svg");
      built?.on("click", (e) => {
        if (e.seriesId !== "nodes" || e.dataType === "edge" || !e.name) return;
        this.$emit("node_click", e.name);
        this.tapped(e); // (its tooltip hidden after a tap)
      });
      this.onView?.();
    },
    // The view moved: the cards whose names are drawn are those near it (the box NAMED_AROUND times the visible part,
    // in layout units; all of a graph of NAMED_ALWAYS nodes at most); below `labelZoom` their short names, none where
    // those cannot be read (shortName). ECharts lays out every name it is given on each draw, so 300 names, most of
    // them out of view, took the frame rate of a zoomed-in live page from 39 to 24 fps.
    viewed() {
      const nodes = this.series.nodes;
      if (!this.chart || !nodes) return;
      const zoom = Number(this.viewport?.dataset.zoom || 1);
      const short = zoom < this.labelZoom ? shortName(zoom, this.cardSize) : null;
      if (short?.font !== this.short?.font) {
        this.short = short;
        this.relabel = true;
        this.dirty.add("nodes");
      }
      if (zoom < this.labelZoom && !short) this.near = null;
      else this.near = nodes.length <= NAMED_ALWAYS ? EVERYWHERE : nearBox(this.chart, visibleBox(this.$el));
      const named = nodes.map((item) => inBox(item.value, this.near));
      if (named.some((shown, i) => shown !== this.named[i])) this.dirty.add("nodes");
      this.named = named;
      if (this.dirty.size) this.schedule();
    },
    // The nodes' label: the names and card lines, or the short names in their font (see viewed).
    nodeLabel() {
      const short = this.short;
      if (!short) return this.fullLabel;
      const font = { ...this.fullLabel.rich.name, fontSize: short.font, lineHeight: Math.ceil(short.font * 1.2) };
      return { formatter: shortLabel(this.names, short), rich: { ...this.fullLabel.rich, short: font } };
    },
    // Bring node `name`'s card into view: the viewport moves its view when the card is out of it (see its reveal).
    reveal(name) {
      const i = this.index?.[name];
      if (!this.chart || !this.viewport || i === undefined) return;
      const [px, py] = this.chart.convertToPixel({ seriesId: "nodes" }, this.series.nodes[i].value);
      const box = this.$el.getBoundingClientRect();
      const k = box.width / Math.max(this.$el.offsetWidth, 1) || 1;
      const detail = { x: box.left + px * k, y: box.top + py * k };
      this.viewport.dispatchEvent(new CustomEvent("fm-reveal", { detail }));
    },
    // snapshot: {nodes: [item, ...], flow: [...], pulse: [...]}
    draw(snapshot) {
      this.series = { nodes: snapshot.nodes.map(nodeItem), flow: snapshot.flow, pulse: snapshot.pulse };
      this.index = {};
      this.series.nodes.forEach((item, i) => (this.index[item.name] = i));
      for (const id of Object.keys(this.series)) this.dirty.add(id);
      this.schedule();
      this.onView?.(); // (which cards are named)
    },
    // diff: {nodes: [item, ...] (changed items only, matched by name), flow: [...], pulse: [...]} (whole series)
    update(diff) {
      if (diff.nodes && diff.nodes.length) {
        const nodes = this.series.nodes;
        for (const item of diff.nodes) {
          const i = this.index[item.name];
          if (i !== undefined) nodes[i] = nodeItem(item);
        }
        this.dirty.add("nodes");
      }
      for (const key of ["flow", "pulse"]) {
        if (diff[key]) {
          this.series[key] = diff[key];
          this.dirty.add(key);
        }
      }
      if (this.dirty.size) this.schedule();
    },
    // Draw in an animation frame, so this message returns at once and patches that arrive meanwhile are drawn
    // together; and after a draw that took d ms, wait 2d before the next, so drawing a big graph on a slow
    // machine takes at most a third of the page's main thread and the node list and the log stay prompt.
    schedule() {
      if (this.scheduled) return;
      this.scheduled = true;
      const wait = Math.max(0, (this.nextDraw || 0) - performance.now());
      setTimeout(() => requestAnimationFrame(() => this.paint()), wait);
    },
    paint() {
      this.scheduled = false;
      if (!this.chart || !this.dirty.size) return;
      const update = [...this.dirty].map((id) => ({ id, data: this.series[id] }));
      const nodes = update.find((entry) => entry.id === "nodes");
      if (nodes && this.named) nodes.data = nodes.data.map((item, i) => (this.named[i] ? withName(item) : item));
      if (nodes && this.relabel) {
        nodes.label = this.nodeLabel();
        this.relabel = false;
      }
      this.dirty.clear();
      const started = performance.now();
      this.chart.setOption({ series: update });
      this.nextDraw = performance.now() + 2 * (performance.now() - started);
    },
  },
};
