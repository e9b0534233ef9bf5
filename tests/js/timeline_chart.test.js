// How the Gantt chart (flowmon/web/widgets/timeline_chart.js) fits its axes to its width, colours their text, places
// the label of the queue's lane, marks the picked node's row and shows a window of a run's many rows.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  axesFor,
  axisText,
  queueLabelX,
  rowLabels,
  rowWindow,
  slidWindow,
} from "../../flowmon/web/widgets/timeline_chart.js";

test("a phone-wide chart gets fewer time ticks and narrower node names", () => {
  const phone = axesFor(340);
  assert.equal(phone.xAxis.splitNumber, 3);
  assert.equal(phone.yAxis.axisLabel.width, 102);
});

test("a desktop chart keeps ECharts' five ticks and 150 px node names", () => {
  assert.deepEqual(axesFor(1100), { xAxis: { splitNumber: 5 }, yAxis: { axisLabel: { width: 150 } } });
});

test("never fewer than two ticks, nor names narrower than 64 px", () => {
  assert.deepEqual(axesFor(120), { xAxis: { splitNumber: 2 }, yAxis: { axisLabel: { width: 64 } } });
});

test("the axes' text takes the page's muted grey, else the options' colour", () => {
  const text = axisText(" #9ca3af", "#64748b");
  assert.deepEqual(text.xAxis.axisLabel, { color: "#9ca3af" });
  assert.deepEqual(text.yAxis.axisLabel, { color: "#9ca3af" });
  assert.deepEqual(axisText("", "#64748b").yAxis.axisLabel, { color: "#64748b" });
});

test("the queue's label goes inside its box when it fits, else just after it, within the chart", () => {
  assert.equal(queueLabelX(40, 400, 80, 900), 46);
  assert.equal(queueLabelX(40, 60, 80, 900), 66);
  assert.equal(queueLabelX(40, 860, 840, 900), 60); // too long for the box and the rest of the lane: ends at the edge
  assert.equal(queueLabelX(40, 60, 900, 900), 46); // never before the box
});

test("the queue's lane follows the theme's grey with the axes", () => {
  assert.deepEqual(axisText("#9ca3af", "#64748b").series, [{ id: "queue", itemStyle: { color: "#9ca3af" } }]);
});

test("the picked row's name is bold; none picked (-1), the names as they are", () => {
  assert.deepEqual(rowLabels(["split", "w00", "join"], 1), [
    "split",
    { value: "w00", textStyle: { fontWeight: "bold" } },
    "join",
  ]);
  assert.deepEqual(rowLabels(["split", "w00"], -1), ["split", "w00"]);
});

test("a window of rows shows the slider, with room for it beside the rows; without one every row shows", () => {
  assert.deepEqual(rowWindow([10, 29]), {
    grid: { right: 42 },
    dataZoom: [{ id: "rows", show: true, startValue: 10, endValue: 29 }],
  });
  // (by percent: the whole axis, however many rows it has)
  assert.deepEqual(rowWindow(null), {
    grid: { right: 24 },
    dataZoom: [{ id: "rows", show: false, start: 0, end: 100 }],
  });
});

test("where the slider moved the window: by percent of the row axis, or by row", () => {
  assert.deepEqual(slidWindow({ start: (50 / 119) * 100, end: (69 / 119) * 100 }, 120), [50, 69]);
  assert.deepEqual(slidWindow({ batch: [{ start: 0, end: (19 / 119) * 100 }] }, 120), [0, 19]);
  assert.deepEqual(slidWindow({ startValue: 7, endValue: 26 }, 120), [7, 26]);
});
