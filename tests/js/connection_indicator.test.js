// The header's connection indicator (flowmon/web/widgets/connection_indicator.js): a tab that did not run for more
// than a few seconds reconnects as soon as it runs again; the pill follows the page's socket as soon as it exists.
import assert from "node:assert/strict";
import { mock, test } from "node:test";

import indicator, { STALLED_MS, stallWatch } from "../../flowmon/web/widgets/connection_indicator.js";

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

function fakeSocket() {
  const handlers = {};
  return {
    connected: false,
    on(event, handler) {
      (handlers[event] ??= []).push(handler);
    },
    off() {},
    emit(event) {
      this.connected = event === "connect";
      (handlers[event] ?? []).forEach((handler) => handler());
    },
  };
}

test("the pill turns live on the socket's connect, even when the socket is made after it mounted", (t) => {
  mock.timers.enable({ apis: ["setInterval", "Date"] });
  t.after(() => mock.timers.reset());
  globalThis.window = {};
  globalThis.document = { visibilityState: "visible", addEventListener() {}, removeEventListener() {} };
  const pill = { ...indicator.data() };
  indicator.mounted.call(pill);
  assert.equal(pill.state, "connecting"); // no socket yet
  const socket = fakeSocket();
  globalThis.window.socket = socket; // NiceGUI makes it once the components are mounted
  mock.timers.tick(30);
  socket.emit("connect");
  assert.equal(pill.state, "online"); // at once, not at the next half-second repaint
  socket.emit("disconnect");
  assert.equal(pill.state, "offline");
  indicator.beforeUnmount.call(pill);
});
