// The replay's Gantt chart in the browser (see timeline_chart.py): built once from the `options` prop, with the
// segments and the queue's lane drawn here; its moving parts (the cursor, the picked node's row and the window of
// rows in view of a run with many nodes) are drawn from a snapshot and then patched. A click on a segment emits
// "span_click" with the segment's value; where the slider moved the window, "window" with its first and last row. On a
// narrow window it says the room the chart has above the inspector's sheet ("room", {px}; null on a wide window), and
// the row of a clicked segment (the patch says `lift`) is lifted above the sheet: the page scrolls.
import chart from "fm-chart";
import { middleCut } from "fm-names";
import patched from "fm-patched";
import { headerBottom, liftBy, liftPage, roomAbove } from "fm-sheet";

// One segment: value [row, start s, end s, first event, last event, marker] -> a rounded bar, at least 3 px wide
// so instant attempts show; reuse and skip markers (marker 1) are thin ticks. Nothing for a row out of the window.
export function renderSpan(params, api) {
  const row = api.value(0);
  const start = api.coord([api.value(1), row]);
  if (!inRows(params.coordSys, start[1])) return null;
  const end = api.coord([api.value(2), row]);
  const height = api.size([0, 1])[1] * 0.58;
  const marker = api.value(5) === 1;
  const width = marker ? 3 : Math.max(end[0] - start[0], 3);
  const shape = { x: start[0] - (marker ? 1.5 : 0), y: start[1] - height / 2, width, height, r: marker ? 0 : 3 };
  return { type: "rect", shape, style: api.style() };
}

const LANE = 22; // the queue's lane above the rows (timeline_chart.py's LANE_PX)
const ROW = 26; // a row (timeline_chart.py's ROW_PX)
const PAD = 6;
const FONT = "12px sans-serif";
const BAND = "rgba(148,163,184,0.14)";
const PICKED = "rgba(99,102,241,0.16)"; // the picked node's row: the cursor's (and the canvas ring's) indigo, faint
const GRID_RIGHT = 24; // timeline_chart.py's GRID_RIGHT and SLIDER_PX
const SLIDER = 18;

// Where the queue's label starts: inside its box from `from` to `until` (px) when `textWidth` fits there, else just
// after the box (the lane has nothing else in it), but not past `right`.
export function queueLabelX(from, until, textWidth, right) {
  if (until - from >= textWidth + 2 * PAD) return from + PAD;
  return Math.max(from + PAD, Math.min(until + PAD, right - textWidth));
}

let measurer = null;
function textWidth(text) {
  measurer ??= document.createElement("canvas").getContext("2d");
  measurer.font = FONT;
  return measurer.measureText(text).width;
}

// The wait in the queue: value [0, until s] -> a faint band behind the rows over that time and, in the lane above
// them, a dashed box (not a segment's filled bar) with its label, e.g. "queued 1.3 s", in the axes' grey.
export function renderQueue(params, api, label) {
  const grid = params.coordSys;
  const from = api.coord([api.value(0), 0])[0];
  const until = Math.max(api.coord([api.value(1), 0])[0], from + 3);
  const color = api.visual("color");
  const top = grid.y - LANE + 3;
  const x = queueLabelX(from, until, textWidth(label), grid.x + grid.width);
  return {
    type: "group",
    children: [
      { type: "rect", shape: { x: from, y: grid.y, width: until - from, height: grid.height }, style: { fill: BAND } },
      {
        type: "rect",
        shape: { x: from + 0.5, y: top + 0.5, width: until - from - 1, height: LANE - 7 },
        style: { fill: "transparent", stroke: color, lineWidth: 1, lineDash: [4, 3] },
      },
      {
        type: "text",
        x,
        y: grid.y - LANE / 2 + 0.5,
        style: { text: label, fill: color, font: FONT, verticalAlign: "middle" },
      },
    ],
  };
}

// Whether a row drawn at `y` is in the rows' area of `grid` (a chart that shows some of its rows: in its window). Its
// rows are not filtered out of the window (the queue's item has no row), nor clipped (a segment at the end of the time
// axis would lose its half).
export function inRows(grid, y) {
  return y >= grid.y && y <= grid.y + grid.height;
}

// The picked node's row: value [row] -> a band across the rows' area behind its segments (nothing out of the window).
export function renderPicked(params, api) {
  const grid = params.coordSys;
  const y = api.coord([0, api.value(0)])[1];
  if (!inRows(grid, y)) return null;
  const height = api.size([0, 1])[1];
  return { type: "rect", shape: { x: grid.x, y: y - height / 2, width: grid.width, height }, style: { fill: PICKED } };
}

// The row axis' names with the picked row's (-1: none) in bold.
export function rowLabels(labels, picked) {
  return labels.map((name, i) => (i === picked ? { value: name, textStyle: { fontWeight: "bold" } } : name));
}

// The options that show the rows in `window` ([first, last], moved with the slider on the right), or every row
// (null: the slider hidden, the grid without its room).
export function rowWindow(window) {
  if (!window) return { grid: { right: GRID_RIGHT }, dataZoom: [{ id: "rows", show: false, start: 0, end: 100 }] };
  const [startValue, endValue] = window;
  return { grid: { right: GRID_RIGHT + SLIDER }, dataZoom: [{ id: "rows", show: true, startValue, endValue }] };
}

// The rows in view ([first, last] of `rows`) after the slider's "datazoom" event: it says where by percent of the
// row axis (by row when the action named them).
export function slidWindow(event, rows) {
  const zoom = event.batch?.[0] ?? event;
  const row = (percent, value) => Math.round(value ?? (percent / 100) * (rows - 1));
  return [row(zoom.start, zoom.startValue), row(zoom.end, zoom.endValue)];
}

// The axes for a chart `width` px wide: fewer time ticks on a narrow chart (ECharts' default of about five ran the
// labels into each other on a phone) and node names that leave the time axis most of a narrow chart.
export function axesFor(width) {
  return {
    xAxis: { splitNumber: Math.max(2, Math.min(5, Math.floor(width / 90))) },
    yAxis: { axisLabel: { width: Math.max(64, Math.min(150, Math.round(width * 0.3))) } },
  };
}

// The axis' font (timeline_chart.py), bold as the picked row's name is drawn.
const NAME_FONT = "bold 12px sans-serif";

// Whether `text` fits an axis label `width` px wide (ECharts cuts what is wider than width - 1 px).
let measure = null;
function narrowEnough(text, width) {
  if (!measure) {
    measure = document.createElement("canvas").getContext("2d");
    measure.font = NAME_FONT;
  }
  return measure.measureText(text).width <= width - 1;
}

// The axes' text and the queue's lane in the page's muted grey (style.py's --fm-muted: 4.5:1 or more on every
// surface, in both modes); `fallback` (the options' colour) when the page has none.
export function axisText(color, fallback) {
  const text = { color: color.trim() || fallback };
  return { xAxis: { axisLabel: text }, yAxis: { axisLabel: text }, series: [{ id: "queue", itemStyle: text }] };
}

export default {
  mixins: [patched, chart],
  template: "<div></div>",
  props: { options: String },
  beforeUnmount() {
    this.themeObserver?.disconnect();
    window.removeEventListener("resize", this.sayRoom);
  },
  methods: {
    async prepare() {
      const options = JSON.parse(this.options);
      options.xAxis.axisLabel.formatter = (v) => `${v} s`; // numbers only
      // (ECharts' own cut, at the end, stays for what the measure missed)
      this.nameWidth = options.yAxis.axisLabel.width;
      options.yAxis.axisLabel.formatter = (name) => middleCut(name, (text) => narrowEnough(text, this.nameWidth));
      const [spans, queue, , picked] = options.series;
      this.queueLabel = queue.data[0]?.name ?? "";
      queue.renderItem = (params, api) => renderQueue(params, api, this.queueLabel);
      spans.renderItem = renderSpan;
      picked.renderItem = renderPicked;
      this.labels = options.yAxis.data;
      this.picked = -1;
      this.axisFallback = options.xAxis.axisLabel.color;
      const built = await this.startChart(options, "canvas");
      if (!built) return;
      this.recolor();
      // the light/dark toggle changes the body's class: the canvas takes the new grey
      this.themeObserver = new MutationObserver(() => this.recolor());
      this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["class"] });
      built.on("click", (e) => {
        if (e.seriesId !== "spans" || !Array.isArray(e.value)) return;
        this.$emit("span_click", e.value);
        this.tapped(e); // (its tooltip hidden after a tap)
      });
      // where the slider moved the window (the server keeps it, to move it from there when a node is picked)
      built.on("datazoom", (e) => this.$emit("window", slidWindow(e, this.labels.length)));
      this.sayRoom();
      window.addEventListener("resize", this.sayRoom);
    },
    // Say the room (px) the chart has above the inspector's sheet on this window, when it changed: the window's
    // height above the sheet, less the header and the chart's card around it.
    sayRoom() {
      const card = this.$el.closest(".q-card") ?? this.$el;
      const [box, outer] = [this.$el.getBoundingClientRect(), card.getBoundingClientRect()];
      const chrome = box.top - outer.top + (outer.bottom - box.bottom);
      const px = roomAbove(window.innerWidth, window.innerHeight, headerBottom(), Math.round(chrome));
      if (px === this.room) return;
      this.room = px;
      this.$emit("room", { px });
    },
    // Scroll the page so the picked row, clicked where the inspector's sheet opens, is seen above it.
    lift() {
      if (!this.chart || this.picked < 0) return;
      const [, y] = this.chart.convertToPixel({ gridIndex: 0 }, [0, this.picked]);
      const top = this.$el.getBoundingClientRect().top + y;
      const half = ROW / 2;
      liftPage(liftBy(top - half, top + half, headerBottom(), window.innerWidth, window.innerHeight));
    },
    recolor() {
      const muted = getComputedStyle(document.body).getPropertyValue("--fm-muted");
      this.chart?.setOption(axisText(muted, this.axisFallback));
    },
    resized() {
      if (!this.chart) return;
      const axes = axesFor(this.chart.getWidth());
      this.nameWidth = axes.yAxis.axisLabel.width;
      this.chart.setOption(axes);
    },
    // snapshot: {cursor: seconds since the first event, picked: the picked node's row or -1, window: [first row,
    // last row] or null}, and on a live page the segments so far and the wait in the queue {labels, data, max,
    // queue, top}; a diff has some of these
    draw(snapshot) {
      this.update(snapshot);
    },
    update(diff) {
      // the chart's new height (fewer rows above the sheet) came just before: drawn at it before a row is lifted
      if (this.chart && this.chart.getHeight() !== this.$el.clientHeight) this.chart.resize();
      const option = { series: [] };
      if ("cursor" in diff) option.series.push({ id: "cursor", markLine: { data: [{ xAxis: diff.cursor }] } });
      if (diff.data) {
        this.queueLabel = diff.queue?.name ?? "";
        this.labels = diff.labels;
        option.grid = { top: diff.top };
        option.dataZoom = [{ id: "rows", top: diff.top }]; // the slider beside the rows, below the queue's lane
        option.xAxis = { max: diff.max };
        option.series.push({ id: "spans", data: diff.data }, { id: "queue", data: diff.queue ? [diff.queue] : [] });
      }
      if ("picked" in diff) this.picked = diff.picked;
      if (diff.data || "picked" in diff) {
        option.yAxis = { data: rowLabels(this.labels, this.picked) };
        option.series.push({ id: "picked", data: this.picked >= 0 ? [[this.picked]] : [] });
      }
      if ("window" in diff) {
        const { grid, dataZoom } = rowWindow(diff.window);
        option.grid = { ...option.grid, ...grid };
        option.dataZoom = [{ ...option.dataZoom?.[0], ...dataZoom[0] }];
      }
      this.chart?.setOption(option);
      if (diff.lift) this.lift();
    },
  },
};
