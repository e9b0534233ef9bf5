// The JavaScript half of the escaping rule (flowmon/web/widgets/lib/fm-escape.js) maps the characters that start or
// end markup to the same entities as Python's flowmon.web.markup.escape (html.escape with quotes).
import assert from "node:assert/strict";
import { test } from "node:test";

import { esc } from "fm-escape";

test("esc replaces the five characters with the entities escape() uses", () => {
  assert.equal(esc(`<a href="x" title='y'>&</a>`), "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;");
});

test("esc turns anything into text first", () => {
  assert.equal(esc(1.5), "1.5");
  assert.equal(esc(null), "null");
});
