// How the Gantt chart (flowmon/web/widgets/timeline_chart.js) fits its axes to its width, colours their text and places
// the label of the queue's lane.
import assert from "node:assert/strict";
import { test } from "node:test";

import { axesFor, axisText, queueLabelX } from "../../flowmon/web/widgets/timeline_chart.js";

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
