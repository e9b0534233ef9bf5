// An ECharts instance in a component's root element, resized with it and disposed with it: mixed into the DAG
// canvas and the replay's Gantt chart. A component with a `resized()` method has it called after every resize
// (the first one comes as the chart starts), to fit its options to the new width. On a screen without hover a
// tooltip goes at once when told to, and a tap on an item hides its tooltip (see tapped). ECharts is the bundle NiceGUI ships ("nicegui-echart"); an element that
// mixes this in declares both (see dag_chart.py).
import { echarts } from "nicegui-echart";

// Whether the browser event `native` (a chart event's, the click an item got) came from a finger: a touch event, or a
// pointer event of a touch pointer.
export function byTouch(native) {
  return native?.pointerType === "touch" || (native?.type ?? "").startsWith("touch");
}

export default {
  beforeUnmount() {
    this.chartGone = true;
    this.resizeObserver?.disconnect();
    this.chart?.dispose();
    this.chart = null;
  },
  methods: {
    // Build the chart from `options` once the box has its size (a tick after mounting, the page laid out);
    // null when the component was removed meanwhile.
    async startChart(options, renderer) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.chartGone) return null;
      // (a screen without hover has no pointer moving from one item to the next: a tooltip goes when told to)
      if (options.tooltip && window.matchMedia?.("(hover: none)").matches) options.tooltip.hideDelay = 0;
      this.chart = echarts.init(this.$el, null, { renderer });
      this.chart.setOption(options);
      this.resizeObserver = new ResizeObserver(() => {
        if (!this.chart) return;
        this.chart.resize();
        this.resized?.();
      });
      this.resizeObserver.observe(this.$el);
      return this.chart;
    },
    // An item was clicked (the chart's event `e`): a tap hides its tooltip, which would stay over what the tap opens
    // (the inspector's sheet), as a finger leaves no pointer on the item to move off it. A mouse's click keeps it.
    tapped(e) {
      if (byTouch(e.event?.event)) this.chart?.dispatchAction({ type: "hideTip" });
    },
  },
};
