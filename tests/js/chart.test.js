// What the charts' shared mixin (flowmon/web/widgets/lib/fm-chart.js) does with a click on an item: a tap (a finger's)
// hides the item's tooltip, a mouse's click keeps it.
import assert from "node:assert/strict";
import { test } from "node:test";

import chart, { byTouch } from "fm-chart";

test("a tap is a touch event or a touch pointer's; a mouse's click, or none, is not", () => {
  assert.equal(byTouch({ type: "touchend" }), true);
  assert.equal(byTouch({ type: "pointerup", pointerType: "touch" }), true);
  assert.equal(byTouch({ type: "click", pointerType: "mouse" }), false);
  assert.equal(byTouch({ type: "mouseup" }), false);
  assert.equal(byTouch(undefined), false);
});

test("a tap on an item hides its tooltip; a mouse's click, or a chart gone, does nothing", () => {
  const actions = [];
  const component = { chart: { dispatchAction: (action) => actions.push(action) } };
  const tapped = (native) => chart.methods.tapped.call(component, { event: { event: native } });
  tapped({ type: "click", pointerType: "mouse" });
  assert.deepEqual(actions, []);
  tapped({ type: "pointerup", pointerType: "touch" });
  assert.deepEqual(actions, [{ type: "hideTip" }]);
  component.chart = null;
  tapped({ type: "touchend" });
  assert.equal(actions.length, 1);
});
