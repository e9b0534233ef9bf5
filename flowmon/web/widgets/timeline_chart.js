// The replay's Gantt chart in the browser (see timeline_chart.py): built once from the `options` prop, with the
// segments drawn here; its one moving part, the cursor, is drawn from a snapshot and then patched. A click on a
// segment emits "span_click" with the segment's value.
import chart from "fm-chart";
import patched from "fm-patched";

// One segment: value [row, start s, end s, first event, last event, marker] -> a rounded bar, at least 3 px wide
// so instant attempts show; reuse and skip markers (marker 1) are thin ticks.
export function renderSpan(params, api) {
  const row = api.value(0);
  const start = api.coord([api.value(1), row]);
  const end = api.coord([api.value(2), row]);
  const height = api.size([0, 1])[1] * 0.58;
  const marker = api.value(5) === 1;
  const width = marker ? 3 : Math.max(end[0] - start[0], 3);
  const shape = { x: start[0] - (marker ? 1.5 : 0), y: start[1] - height / 2, width, height, r: marker ? 0 : 3 };
  return { type: "rect", shape, style: api.style() };
}

// The axes for a chart `width` px wide: fewer time ticks on a narrow chart (ECharts' default of about five ran the
// labels into each other on a phone) and node names that leave the time axis most of a narrow chart.
export function axesFor(width) {
  return {
    xAxis: { splitNumber: Math.max(2, Math.min(5, Math.floor(width / 90))) },
    yAxis: { axisLabel: { width: Math.max(64, Math.min(150, Math.round(width * 0.3))) } },
  };
}

// The axes' text in the page's muted grey (style.py's --fm-muted: 4.5:1 or more on every surface, in both modes);
// `fallback` (the options' colour) when the page has none.
export function axisText(color, fallback) {
  const text = { color: color.trim() || fallback };
  return { xAxis: { axisLabel: text }, yAxis: { axisLabel: text } };
}

export default {
  mixins: [patched, chart],
  template: "<div></div>",
  props: { options: String },
  beforeUnmount() {
    this.themeObserver?.disconnect();
  },
  methods: {
    async prepare() {
      const options = JSON.parse(this.options);
      options.xAxis.axisLabel.formatter = (v) => `${v} s`; // numbers only
      options.series[0].renderItem = renderSpan;
      this.axisFallback = options.xAxis.axisLabel.color;
      const built = await this.startChart(options, "canvas");
      if (!built) return;
      this.recolor();
      // the light/dark toggle changes the body's class: the canvas takes the new grey
      this.themeObserver = new MutationObserver(() => this.recolor());
      this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["class"] });
      built.on("click", (e) => {
        if (e.seriesType === "custom" && Array.isArray(e.value)) this.$emit("span_click", e.value);
      });
    },
    recolor() {
      const muted = getComputedStyle(document.body).getPropertyValue("--fm-muted");
      this.chart?.setOption(axisText(muted, this.axisFallback));
    },
    resized() {
      this.chart?.setOption(axesFor(this.chart.getWidth()));
    },
    // snapshot and diff: {cursor: seconds since the first event}, and on a live page the segments so far
    // {labels, data, max}
    draw(snapshot) {
      this.update(snapshot);
    },
    update(diff) {
      const option = { series: [{ id: "cursor", markLine: { data: [{ xAxis: diff.cursor }] } }] };
      if (diff.data) {
        option.xAxis = { max: diff.max };
        option.yAxis = { data: diff.labels };
        option.series.push({ id: "spans", data: diff.data });
      }
      this.chart?.setOption(option);
    },
  },
};
