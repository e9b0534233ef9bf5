// The DAG canvas in the browser: an ECharts instance that keeps its own copy of the node items and takes
// O(changed) patches from Python (see dag_chart.py). The chart is drawn once from the `options` prop; after
// that only `patch` moves it, so ten updates a second cost a few hundred bytes on the websocket, not the
// whole node list.
import { echarts } from "nicegui-echart";

// Option keys starting with ":" hold JavaScript (formatters): evaluate them once, as NiceGUI's echart does.
function evaluate(value) {
  if (Array.isArray(value)) return value.map(evaluate);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [key, item] of Object.entries(value)) {
    if (key.startsWith(":")) out[key.slice(1)] = new Function(`return (${item})`)();
    else out[key] = evaluate(item);
  }
  return out;
}

// Node items come from Python with itemStyle as [key, value] pairs (see DagView._node_item).
function nodeItem(item) {
  if (Array.isArray(item.itemStyle)) item.itemStyle = Object.fromEntries(item.itemStyle);
  return item;
}

export default {
  template: "<div></div>",
  props: { options: String },
  async mounted() {
    await new Promise((resolve) => setTimeout(resolve, 0)); // let Tailwind size the box first
    const options = evaluate(JSON.parse(this.options));
    this.series = {};
    for (const entry of options.series) this.series[entry.id] = entry.data || [];
    (this.series.nodes || []).forEach(nodeItem);
    this.index = {};
    (this.series.nodes || []).forEach((item, i) => (this.index[item.name] = i));
    this.chart = echarts.init(this.$el, null, { renderer: "svg" });
    this.chart.setOption(options);
    this.chart.on("click", (e) => {
      if (e.seriesId === "nodes" && e.dataType !== "edge" && e.name) this.$emit("node_click", e.name);
    });
    this.resizeObserver = new ResizeObserver(() => this.chart && this.chart.resize());
    this.resizeObserver.observe(this.$el);
    this.$emit("ready");
  },
  beforeUnmount() {
    this.resizeObserver?.disconnect();
    this.chart?.dispose();
    this.chart = null;
  },
  methods: {
    // diff: {nodes: [item, ...] (changed items only, matched by name), flow: [...], pulse: [...]} (whole series)
    patch(diff) {
      if (!this.chart) return;
      this.dirty = this.dirty || new Set();
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
      setTimeout(() => requestAnimationFrame(() => this.draw()), wait);
    },
    draw() {
      this.scheduled = false;
      if (!this.chart || !this.dirty.size) return;
      const update = [...this.dirty].map((id) => ({ id, data: this.series[id] }));
      this.dirty.clear();
      const started = performance.now();
      this.chart.setOption({ series: update });
      this.nextDraw = performance.now() + 2 * (performance.now() - started);
    },
  },
};
