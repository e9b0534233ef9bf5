// The browser half of the draw-once-then-patch protocol (flowmon/web/widgets/lib/fm-patched.js): ready once
// prepared, nothing drawn before the first reset, then only patches; a reset draws afresh.
import assert from "node:assert/strict";
import { test } from "node:test";

import patched from "fm-patched";
import nodeList from "../../flowmon/web/widgets/node_list.js";

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
