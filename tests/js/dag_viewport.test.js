// The DAG canvas's viewport maths (flowmon/web/widgets/dag_viewport.js): zooming keeps the point under the pointer
// in place, the zoom stays within its bounds, and fitting shows the whole stage centred, never enlarged.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clampZoom, fitView, zoomAt } from "../../flowmon/web/widgets/dag_viewport.js";

test("zooming about a point keeps that point where it is", () => {
  const view = zoomAt({ k: 1, x: 10, y: 20 }, 2, 110, 70);
  assert.deepEqual(view, { k: 2, x: -90, y: -30 });
  // the stage point under (110, 70) before: ((110 - 10) / 1, (70 - 20) / 1) = (100, 50); after: the same
  assert.equal((110 - view.x) / view.k, 100);
  assert.equal((70 - view.y) / view.k, 50);
});

test("the zoom stays between 5 % and 400 %", () => {
  assert.equal(clampZoom(100), 4);
  assert.equal(clampZoom(0), 0.05);
  assert.equal(zoomAt({ k: 4, x: 0, y: 0 }, 2, 50, 50).k, 4);
});

test("fit shows the whole stage centred, and a small one at its natural size", () => {
  assert.deepEqual(fitView(4000, 400, 1000, 400), { k: 0.25, x: 0, y: 150 });
  assert.deepEqual(fitView(800, 300, 1000, 400), { k: 1, x: 100, y: 50 });
});
