// Stands in for NiceGUI's ECharts bundle: the tests check what the canvas formats, not what ECharts draws.
export const echarts = {
  init() {
    throw new Error("no ECharts in the unit tests");
  },
};
