// The DAG canvas's viewport maths (flowmon/web/widgets/dag_viewport.js): zooming keeps the point under the pointer
// in place, the zoom stays within its bounds, fitting shows the whole stage centred, never enlarged, and a pinch
// zooms by the change of the fingers' distance while the point under their midpoint follows the midpoint. A graph
// starts at its natural size, or fitted; on a phone, legible at its left end where fitting would shrink its names.
// A canvas drawn in the place of one the visitor zoomed or panned keeps the zoom, and the node that was nearest the
// middle of the view where it was.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  anchors,
  clampZoom,
  fitView,
  keptView,
  pinchView,
  resizedView,
  revealView,
  stagePlaces,
  startView,
  zoomAt,
} from "../../flowmon/web/widgets/dag_viewport.js";

test("zooming about a point keeps that point where it is", () => {
  const view = zoomAt({ k: 1, x: 10, y: 20 }, 2, 110, 70);
  assert.deepEqual(view, { k: 2, x: -90, y: -30 });
  // the stage point under (110, 70) before: ((110 - 10) / 1, (70 - 20) / 1) = (100, 50); after: the same
  assert.equal((110 - view.x) / view.k, 100);
  assert.equal((70 - view.y) / view.k, 50);
});

test("the zoom stays between 2 % and 400 %", () => {
  assert.equal(clampZoom(100), 4);
  assert.equal(clampZoom(0), 0.02);
  assert.equal(zoomAt({ k: 4, x: 0, y: 0 }, 2, 50, 50).k, 4);
});

test("fit shows the whole stage centred, and a small one at its natural size", () => {
  assert.deepEqual(fitView(4000, 400, 1000, 400), { k: 0.25, x: 0, y: 150 });
  assert.deepEqual(fitView(800, 300, 1000, 400), { k: 1, x: 100, y: 50 });
});

test("a pinch zooms by the fingers' spread and keeps the stage point under their midpoint", () => {
  const from = { k: 1, x: 10, y: 20 };
  // fingers 100 px apart about (110, 70) spread to 200 px apart about the same midpoint: twice the zoom
  const spread = pinchView(from, { x: 60, y: 70 }, { x: 160, y: 70 }, { x: 10, y: 70 }, { x: 210, y: 70 });
  assert.deepEqual(spread, zoomAt(from, 2, 110, 70));
  // the same spread while the midpoint moves 30 px right and 10 px up: the same zoom, moved with the midpoint
  const moved = pinchView(from, { x: 60, y: 70 }, { x: 160, y: 70 }, { x: 40, y: 60 }, { x: 240, y: 60 });
  assert.deepEqual(moved, { k: 2, x: spread.x + 30, y: spread.y - 10 });
  // the stage point under the first midpoint, (100, 50), is under the last one
  assert.equal((140 - moved.x) / moved.k, 100);
  assert.equal((60 - moved.y) / moved.k, 50);
});

test("a pinch stays within the zoom bounds, and fingers on one spot change nothing", () => {
  const from = { k: 2, x: 0, y: 0 };
  const a = { x: 100, y: 100 };
  assert.equal(pinchView(from, a, { x: 101, y: 100 }, a, { x: 400, y: 100 }).k, 4);
  assert.equal(pinchView(from, a, { x: 400, y: 100 }, { x: 400, y: 100 }, { x: 401, y: 100 }).k, 0.02);
  assert.deepEqual(pinchView(from, a, a, a, a), from);
});

test("a graph starts at its natural size when it fits the viewport, else fitted", () => {
  assert.deepEqual(startView(800, 300, 1000, 400, 0.7, 1200), { k: 1, x: 0, y: 0 });
  assert.deepEqual(startView(4000, 400, 1000, 400, 0.7, 1200), { k: 0.25, x: 0, y: 150 });
  // a column of many named cards, on a stage taller than the viewport: the whole column in view
  assert.deepEqual(startView(1000, 2000, 1000, 400, 1, 1200), { k: 0.2, x: 400, y: 0 });
  // in a narrow window, legible from its top
  assert.deepEqual(startView(300, 2000, 350, 300, 1, 390), { k: 1, x: 0, y: 0 });
});

test("in a narrow window a graph that fitting would make illegible starts legible, at its left end", () => {
  // 1,000 x 200 px into 350 x 300 in a 390 px window: fitted would be 0.35; its names are legible from 0.7
  assert.deepEqual(startView(1000, 200, 350, 300, 0.7, 390), { k: 0.7, x: 0, y: 80 });
  // legible at full size only (small cards)
  assert.deepEqual(startView(1000, 200, 350, 300, 1, 390), { k: 1, x: 0, y: 50 });
  // fitting keeps it legible: fitted (0.7 exactly)
  assert.deepEqual(startView(500, 200, 350, 300, 0.7, 390), fitView(500, 200, 350, 300));
  // taller than the viewport at that zoom: from its top
  assert.deepEqual(startView(1000, 600, 350, 300, 0.7, 390), { k: 0.7, x: 0, y: 0 });
  // dots (no names): fitted
  assert.deepEqual(startView(1000, 200, 350, 300, null, 390), fitView(1000, 200, 350, 300));
  // a canvas as narrow in a window from 640 px on (half of a wide page, two compared side by side): fitted
  assert.deepEqual(startView(1000, 200, 350, 300, 0.7, 640), fitView(1000, 200, 350, 300));
});

test("a canvas read by name starts legible at its left end, in any window, where fitting would leave it unnamed", () => {
  // the editor's preview at 1400 px: 9 columns, 1,637 x 300 px into 400 x 300 would be 0.24, its cards unnamed
  assert.deepEqual(startView(1637, 300, 400, 300, 0.7, 1400, 0.5), { k: 0.7, x: 0, y: 45 });
  // fitted at 0.5 or more, its names drawn: fitted
  assert.deepEqual(startView(1000, 300, 500, 300, 0.7, 1400, 0.5), fitView(1000, 300, 500, 300));
  // without names (dots), or a canvas that does not ask (the execution page): fitted
  assert.deepEqual(startView(1637, 300, 400, 300, null, 1400, 0.5), fitView(1637, 300, 400, 300));
  assert.deepEqual(startView(1637, 300, 400, 300, 0.7, 1400), fitView(1637, 300, 400, 300));
});

test("a card out of view is brought to the middle at the same zoom; one in view stays where it is", () => {
  const view = { k: 0.5, x: 10, y: -200 };
  assert.equal(revealView(view, 400, 200, 800, 400), view); // inside: the very same view (nothing to redraw)
  assert.equal(revealView(view, 30, 370, 800, 400), view); // inside by the margin
  // below the viewport: moved up by what puts the card in the middle
  assert.deepEqual(revealView(view, 400, 900, 800, 400), { k: 0.5, x: 10, y: -900 });
  // left of it, and too near the top edge
  assert.deepEqual(revealView(view, -100, 10, 800, 400), { k: 0.5, x: 510, y: -10 });
});

test("a viewport that changes size keeps its middle in the middle, at the same zoom", () => {
  const view = { k: 0.5, x: 262, y: -300 };
  const stage = [1000, 2000];
  // narrowed from 600 to 170 px (the page beside an opening inspector), as tall as before, the stage as it was
  assert.deepEqual(resizedView(view, [600, 640], [170, 640], stage), { k: 0.5, x: 47, y: -300 });
  // the stage point in the middle before, (300 - 262) / 0.5 = 76, is in the middle after: (85 - 47) / 0.5 = 76
  assert.deepEqual(resizedView(view, [600, 640], [600, 640], stage), view);
  assert.deepEqual(resizedView(view, [170, 640], [600, 800], stage), { k: 0.5, x: 477, y: -220 }); // and taller
  // the stage narrowed with it (from 1000 to 600 px, where the chart lays its nodes out again): the middle was
  // 76 / 1000 of the stage across, and is again
  const narrowed = resizedView(view, [600, 640], [170, 640], stage, [600, 2000]);
  assert.equal(narrowed.k, 0.5);
  assert.equal(narrowed.y, -300);
  assert.ok(Math.abs((85 - narrowed.x) / narrowed.k / 600 - 76 / 1000) < 1e-12, narrowed.x);
  assert.ok(Math.abs(narrowed.x - 62.2) < 1e-9, narrowed.x);
});

test("a node's place on the stage is its percent of the plot area between the chart's margins", () => {
  const places = { area: [80, 80, 30, 30], nodes: { a: [0, 50], b: [100, 0], ["__proto__"]: [50, 100] } };
  const at = stagePlaces(places, 1080, 260);
  assert.deepEqual(at.get("a"), [80, 130]);
  assert.deepEqual(at.get("b"), [1000, 30]);
  assert.deepEqual(at.get("__proto__"), [540, 230]); // a node's id is only a name
  assert.equal(at.get("constructor"), undefined);
});

test("the nodes of a view are listed nearest the middle of the viewport first", () => {
  const at = new Map([
    ["left", [100, 100]],
    ["middle", [500, 100]],
    ["right", [900, 100]],
  ]);
  // zoomed to 2 and panned so that stage x 500 is at viewport x 400 (the middle of an 800 px viewport)
  const listed = anchors({ k: 2, x: -600, y: 0 }, at, 800, 400);
  assert.deepEqual(listed, [
    ["middle", 400, 200],
    ["left", -400, 200],
    ["right", 1200, 200],
  ]);
});

test("a new canvas keeps the zoom and puts the old view's middle node where it was", () => {
  const kept = [
    ["gone", 400, 200],
    ["middle", 420, 190],
    ["far", 2000, 200],
  ];
  // the node "middle" moved to stage (700, 120) in the new layout: the view puts it at (420, 190) again, at zoom 1.5
  const view = keptView(
    1.5,
    kept,
    new Map([
      ["middle", [700, 120]],
      ["far", [900, 120]],
      ["added", [100, 100]],
    ]),
    800,
    400,
  );
  assert.deepEqual(view, { k: 1.5, x: 420 - 700 * 1.5, y: 190 - 120 * 1.5 });
  // the nodes that were in view are all gone: the nearest one left comes to the middle, at the same zoom
  assert.deepEqual(keptView(1.5, kept, new Map([["far", [900, 120]]]), 800, 400), {
    k: 1.5,
    x: 400 - 900 * 1.5,
    y: 200 - 120 * 1.5,
  });
  // none of the old nodes is left: no kept view (the canvas starts anew)
  assert.equal(keptView(1.5, kept, new Map([["other", [10, 10]]]), 800, 400), null);
});
