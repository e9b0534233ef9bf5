// What the DAG canvas formats in the browser (flowmon/web/widgets/dag_chart.js): names from a workflow are text in
// the tooltip's HTML and in the card's ECharts rich text.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clip, label, richSafe, tooltip } from "../../flowmon/web/widgets/dag_chart.js";

const MARKER = `</svg><img src=x onerror="alert(1)"><b id='fm-marker-b'>bold</b>`;
const COLORS = { pending: "#aaa", failed: "#f00" };

test("the tooltip escapes the node's name, id, type and card line", () => {
  const format = tooltip({ names: { n1: MARKER }, types: { n1: "<i>log</i>" }, colors: COLORS });
  const html = format({ data: { name: "n1", s: "failed", m: "<script>" } });
  assert.ok(!html.includes("<img") && !html.includes("<i>") && !html.includes("<script>"), html);
  assert.ok(html.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"), html);
  assert.ok(html.startsWith("<b>&lt;/svg&gt;"), html);
  assert.ok(html.includes('<span style="color:#f00">●</span> &lt;script&gt; · &lt;i&gt;log&lt;/i&gt;'), html);
});

test("the tooltip names a node without a name by its id, in the pending colour before it runs", () => {
  const html = tooltip({ names: {}, types: {}, colors: COLORS })({ data: { name: "n2" } });
  assert.equal(html, '<b>n2</b><br/><span style="color:#aaa">●</span> pending');
});

test("card labels cannot leave their rich-text block", () => {
  const format = label({ names: { a: "{name|x}|y" }, card: 140 });
  assert.equal(format({ data: { name: "a", m: "{meta|z}" } }), "{name|(name/x)/y}\n{meta|(meta/z)}");
  assert.equal(richSafe("{}|"), "()/");
});

test("names are clipped to the card, counted in characters", () => {
  assert.equal(clip("short", 140), "short");
  assert.equal(clip("a".repeat(30), 140), "a".repeat(18) + "…");
  assert.equal(clip("🙂".repeat(19), 140), "🙂".repeat(19)); // 19 characters fit (38 UTF-16 units)
  assert.equal(clip("x".repeat(10), 10), "xxxxx…"); // never fewer than six
});

test("a slow node's tooltip says how much slower than usual, escaped", () => {
  const format = tooltip({ names: {}, types: {}, colors: COLORS });
  const html = format({ data: { name: "n3", s: "failed", m: "2.0 s · slow", w: "slower than usual: <b>" } });
  assert.ok(html.endsWith('<span style="color:#d97706">▲</span> slower than usual: &lt;b&gt;'), html);
  assert.ok(!format({ data: { name: "n3" } }).includes("▲"));
});
