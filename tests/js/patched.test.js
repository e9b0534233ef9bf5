// The browser half of the draw-once-then-patch protocol (flowmon/web/widgets/lib/fm-patched.js): ready once
// prepared, nothing drawn before the first reset, then only patches; a reset draws afresh.
import assert from "node:assert/strict";
import { test } from "node:test";

import patched from "fm-patched";
import { liftBy, roomAbove, screenBottom } from "fm-sheet";
import nodeList, { onScreen, revealTop } from "../../flowmon/web/widgets/node_list.js";

// A component instance as Vue would make it from `definition` (data, the mixin's and its own methods).
function instance(definition = {}) {
  const emitted = [];
  const self = { ...(definition.data ? definition.data() : {}), emitted };
  self.$emit = (name, ...args) => emitted.push([name, ...args]);
  for (const [name, method] of Object.entries({ ...patched.methods, ...definition.methods })) {
    self[name] = method.bind(self);
  }
  return self;
}

// Records what the protocol asks of a component: prepare, draw and update.
function recorder() {
  const calls = [];
  return {
    calls,
    methods: {
      prepare: async () => calls.push(["prepare"]),
      draw: (snapshot) => calls.push(["draw", snapshot]),
      update: (diff) => calls.push(["update", diff]),
    },
  };
}

test("says ready once, after it has prepared", async () => {
  const { calls, methods } = recorder();
  const component = instance({ methods });
  await patched.mounted.call(component);
  assert.deepEqual(calls, [["prepare"]]);
  assert.deepEqual(component.emitted, [["ready"]]);
});

test("says nothing when it is removed while preparing", async () => {
  let finish;
  const component = instance({ methods: { prepare: () => new Promise((resolve) => (finish = resolve)) } });
  const mounting = patched.mounted.call(component);
  patched.beforeUnmount.call(component);
  finish();
  await mounting;
  assert.deepEqual(component.emitted, []);
});

test("ignores patches until the first reset, then draws the snapshot and applies patches", async () => {
  const { calls, methods } = recorder();
  const component = instance({ methods });
  await patched.mounted.call(component);
  component.patch({ rows: ["meant for an earlier instance"] });
  component.reset({ rows: ["a"] });
  component.patch({ rows: ["b"] });
  assert.deepEqual(calls.slice(1), [
    ["draw", { rows: ["a"] }],
    ["update", { rows: ["b"] }],
  ]);
});

test("a reset draws everything again", async () => {
  const { calls, methods } = recorder();
  const component = instance({ methods });
  await patched.mounted.call(component);
  component.reset({ lines: [1, 2] });
  component.reset({ lines: [3] });
  assert.deepEqual(
    calls.filter(([name]) => name === "draw"),
    [
      ["draw", { lines: [1, 2] }],
      ["draw", { lines: [3] }],
    ],
  );
});

test("the node list shows the snapshot's rows, then replaces the rows a patch carries", async () => {
  const list = instance(nodeList);
  await patched.mounted.call(list);
  const row = (id, status) => ({ id, name: id.toUpperCase(), caption: id, status, color: "", icon: "", detail: "" });
  list.patch({ rows: [row("b", "running")] });
  assert.deepEqual(list.items, []);
  list.reset({ rows: [row("a", "pending"), row("b", "pending")], selected: null });
  list.patch({ rows: [row("b", "succeeded"), row("unknown", "failed")] });
  list.patch({ selected: "a" });
  assert.deepEqual(
    list.items.map((r) => [r.id, r.status]),
    [
      ["a", "pending"],
      ["b", "succeeded"],
    ],
  );
  assert.equal(list.chosen, "a");
  list.patch({ rows: [row("a", "running")] }); // a patch without `selected` keeps the selection
  assert.equal(list.chosen, "a");
});

// A list box of 100 rows 40 px high, 400 px of them in view, 100 px from the top of a window 2000 px high, as the
// browser lays it out: a row's box is where the scroll puts it.
function listBox() {
  globalThis.window = { innerHeight: 2000 };
  globalThis.document = { querySelector: () => null };
  const box = { scrollTop: 0, clientTop: 0, clientHeight: 400, getBoundingClientRect: () => ({ top: 100 }) };
  box.children = Array.from({ length: 100 }, (_, i) => ({
    offsetHeight: 40,
    getBoundingClientRect: () => ({ top: 100 + i * 40 - box.scrollTop }),
  }));
  return box;
}

test("a row picked elsewhere is scrolled into the list's middle, one in view or picked in the list is not", async () => {
  const list = instance(nodeList);
  list.$el = listBox();
  list.$nextTick = (then) => then();
  await patched.mounted.call(list);
  const rows = Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, name: "", caption: "", status: "pending" }));
  list.reset({ rows, selected: null });
  list.patch({ selected: "n3", reveal: true }); // in view: the list stays
  assert.equal(list.$el.scrollTop, 0);
  list.patch({ selected: "n60" }); // picked in the list itself: the list stays
  assert.equal(list.$el.scrollTop, 0);
  list.patch({ selected: "n60", reveal: true }); // rows 55-64 in view, row 60 in their middle
  assert.equal(list.$el.scrollTop, 60 * 40 - 180);
  list.patch({ selected: "n62", reveal: true }); // in view now
  assert.equal(list.$el.scrollTop, 2220);
  list.patch({ selected: null, reveal: true });
  assert.equal(list.$el.scrollTop, 2220);
  list.$el.scrollTop = 0;
  list.reset({ rows, selected: "n10" }); // drawn again (mounted anew): its selected row in view
  assert.equal(list.$el.scrollTop, 10 * 40 - 180);
});

test("a row is revealed in the list's middle, as near as its top allows, and not when all of it is in view", () => {
  const view = { top: 200, height: 400 };
  assert.equal(revealTop(view, { top: 200, height: 40 }), null);
  assert.equal(revealTop(view, { top: 560, height: 40 }), null);
  assert.equal(revealTop(view, { top: 570, height: 40 }), 390); // its bottom out of view
  assert.equal(revealTop(view, { top: 190, height: 40 }), 10); // its top out of view
  assert.equal(revealTop(view, { top: 40, height: 40 }), -140); // near the first row: the browser stops at the top
  assert.equal(revealTop({ top: 0, height: 0 }, { top: 40, height: 40 }), null); // a list not laid out
});

test("a row is revealed in the part of the list on the screen, or in all of it when too little of it is", () => {
  assert.deepEqual(onScreen(100, 500, 50, 900, 80), [100, 500]); // all of it on the screen
  assert.deepEqual(onScreen(-200, 500, 50, 900, 80), [50, 500]); // its top under the header, or above the window
  assert.deepEqual(onScreen(600, 1000, 50, 900, 80), [600, 900]); // its bottom below the window
  assert.deepEqual(onScreen(850, 1250, 50, 900, 80), [850, 1250]); // a sliver on the screen: all of it
});

test("on a narrow window the list's part on the screen ends where the inspector's sheet begins", () => {
  assert.equal(screenBottom(1280, 800), 800); // beside the inspector: the whole window's height
  assert.equal(screenBottom(900, 700), 700);
  assert.equal(screenBottom(390, 844), 464); // a phone: the sheet takes the bottom 45%
  assert.equal(screenBottom(899, 1000), 550);
});

test("a part of the page has the room above the sheet less the header, its own chrome and a margin", () => {
  assert.equal(roomAbove(390, 844, 50, 100), 464 - 50 - 100 - 8);
  assert.equal(roomAbove(390, 400, 50, 200), 0); // a short window: none
  assert.equal(roomAbove(1280, 800, 50, 100), null); // a wide window has no sheet
});

test("a row tapped where the sheet opens is lifted to the middle of the room above it; any other, not", () => {
  // a phone 390 x 844: the header ends at 50, the sheet begins at 464 (the room's middle: 257)
  assert.equal(liftBy(770, 800, 50, 390, 844), 785 - 257);
  assert.equal(liftBy(440, 470, 50, 390, 844), 455 - 257); // partly under it
  assert.equal(liftBy(400, 430, 50, 390, 844), 0); // above it
  assert.equal(liftBy(900, 930, 50, 390, 844), 0); // off the screen: not where the reader tapped
  assert.equal(liftBy(770, 800, 50, 1280, 844), 0); // a wide window: the inspector is beside the page
});
