// The stall watch of the header's connection indicator (flowmon/web/widgets/connection_indicator.js): a tab that
// did not run for more than a few seconds reconnects as soon as it runs again.
import assert from "node:assert/strict";
import { test } from "node:test";

import { STALLED_MS, stallWatch } from "../../flowmon/web/widgets/connection_indicator.js";

test("ticks every half second are not a stall", () => {
  const time = { now: 0 };
  const stalled = stallWatch(() => time.now);
  for (let tick = 1; tick <= 20; tick++) {
    time.now = tick * 500;
    assert.equal(stalled(), false);
  }
});

test("a tick after the tab did not run for longer than the limit is a stall, once", () => {
  const time = { now: 1000 };
  const stalled = stallWatch(() => time.now);
  time.now += 500;
  assert.equal(stalled(), false);
  time.now += 7000; // the tab was stuck for seven seconds
  assert.equal(stalled(), true);
  time.now += 500;
  assert.equal(stalled(), false); // running again
  time.now += STALLED_MS; // exactly the limit is not a stall yet
  assert.equal(stalled(), false);
  time.now += STALLED_MS + 1;
  assert.equal(stalled(), true);
});
