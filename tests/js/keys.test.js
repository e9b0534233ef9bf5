// The key logic of the shortcuts (flowmon/web/widgets/lib/fm-keys.js): single keys, two-key sequences within their
// time, and key presses that belong to a field being typed in.
import assert from "node:assert/strict";
import { test } from "node:test";

import { BINDINGS, isTyping, keySequencer } from "fm-keys";

function clock() {
  const time = { now: 0 };
  return { time, now: () => time.now };
}

test("single keys answer their action at once", () => {
  const next = keySequencer(BINDINGS, clock());
  assert.equal(next("?"), "help");
  assert.equal(next("/"), "search");
  assert.equal(next("r"), "run");
  assert.equal(next("c"), "cancel");
  assert.equal(next("x"), null);
  assert.equal(next("R"), null);
});

test("a sequence completes with its second key within its time", () => {
  const { time, now } = clock();
  const next = keySequencer(BINDINGS, { timeoutMs: 1500, now });
  assert.equal(next("g"), null);
  time.now = 1000;
  assert.equal(next("e"), "go:/executions");
  assert.equal(next("g"), null);
  assert.equal(next("d"), "go:/");
  assert.equal(next("g"), null);
  assert.equal(next("w"), "workflows");
  assert.equal(next("g"), null);
  assert.equal(next("h"), "go:/webhooks");
});

test("a late or unknown second key starts afresh", () => {
  const { time, now } = clock();
  const next = keySequencer(BINDINGS, { timeoutMs: 1500, now });
  next("g");
  time.now = 1501;
  assert.equal(next("e"), null); // too late: "e" alone is nothing
  next("g");
  assert.equal(next("r"), "run"); // not a sequence: the key counts alone
  next("g");
  assert.equal(next("g"), null); // the second "g" starts a sequence of its own
  assert.equal(next("e"), "go:/executions");
});

test("keys typed into fields and editors are not shortcuts", () => {
  const element = (matches, editable = false) => ({
    isContentEditable: editable,
    closest: () => (matches ? {} : null),
  });
  assert.equal(isTyping(element(true)), true);
  assert.equal(isTyping(element(false, true)), true);
  assert.equal(isTyping(element(false)), false);
  assert.equal(isTyping(null), false);
  assert.equal(isTyping({}), false); // the document itself
});
