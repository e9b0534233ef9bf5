// An ECharts instance in a component's root element, resized with it and disposed with it: mixed into the DAG
// canvas and the replay's Gantt chart. A component with a `resized()` method has it called after every resize
// (the first one comes as the chart starts), to fit its options to the new width. ECharts is the bundle NiceGUI ships ("nicegui-echart"); an element that
// mixes this in declares both (see dag_chart.py).
import { echarts } from "nicegui-echart";

export default {
  beforeUnmount() {
    this.chartGone = true;
    this.resizeObserver?.disconnect();
    this.chart?.dispose();
    this.chart = null;
  },
  methods: {
    // Build the chart from `options` once the box has its size (Tailwind's classes apply a tick after mounting);
    // null when the component was removed meanwhile.
    async startChart(options, renderer) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.chartGone) return null;
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
  },
};
