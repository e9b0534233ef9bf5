// What the DAG canvas formats in the browser (flowmon/web/widgets/dag_chart.js): names from a workflow are text in
// the tooltip's HTML and in the card's ECharts rich text.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  clip,
  inBox,
  label,
  motion,
  richSafe,
  shortLabel,
  shortName,
  tipPosition,
  tooltip,
  wrap,
} from "../../flowmon/web/widgets/dag_chart.js";

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

test("a name takes a second line where the card has one, broken between words, the rest cut in its middle", () => {
  const name = "Normalise customer addresses step 7 of the import"; // 50 characters; 29 fit on a 212 px line
  assert.deepEqual(wrap(name, 212, 2), ["Normalise customer addresses", "step 7 of the import"]);
  assert.deepEqual(wrap(name, 212, 1), [clip(name, 212)]);
  assert.deepEqual(wrap("Short name", 212, 2), ["Short name"]);
  // a word longer than half a line is broken where the line ends, the rest cut in its middle when longer than a line
  assert.deepEqual(wrap("a".repeat(25) + " b", 140, 2), ["a".repeat(19), "aaaaaa b"]);
  assert.deepEqual(wrap(`Fetch ${"x".repeat(40)} (A-C)`, 140, 2), [`Fetch ${"x".repeat(13)}`, "xxxxxxxxx…xxx (A-C)"]);
  const format = label({ names: { a: name }, card: 212, lines: 2 });
  assert.equal(
    format({ data: { name: "a" } }),
    "{name|Normalise customer addresses}\n{name|step 7 of the import}\n{meta|pending}",
  );
});

test("a card is named when its place is in the box near the view, never without one", () => {
  const box = { x0: -1, x1: 1, y0: -5, y1: 5 };
  assert.equal(inBox([0, 5], box), true);
  assert.equal(inBox([0, 5.5], box), false);
  assert.equal(inBox([2, 0], box), false);
  assert.equal(inBox([0, 0], null), false); // zoomed out past reading
});

test("names are clipped to the card in their middle, counted in characters", () => {
  assert.equal(clip("short", 140), "short");
  assert.equal(clip("a".repeat(30), 140), "a".repeat(9) + "…" + "a".repeat(9));
  assert.equal(clip("🙂".repeat(19), 140), "🙂".repeat(19)); // 19 characters fit (38 UTF-16 units)
  assert.equal(clip("🙂".repeat(20), 140), "🙂".repeat(9) + "…" + "🙂".repeat(9));
  assert.equal(clip("🇩🇪".repeat(20), 140), "🇩🇪".repeat(9) + "…" + "🇩🇪".repeat(9)); // a flag is two code points
  assert.equal(clip("👩‍👩‍👧".repeat(20), 140), "👩‍👩‍👧".repeat(9) + "…" + "👩‍👩‍👧".repeat(9)); // one family, joined
  assert.equal(clip("x".repeat(10), 10), "xxx…xx"); // never fewer than six
  // the end tells nodes apart; no space is left beside the cut
  assert.equal(clip("Process the shard 1 (A-C)", 140), "Process t…d 1 (A-C)");
  assert.equal(clip("Record sale in analytics", 152), "Record sal…analytics");
});

test("a slow node's tooltip says how much slower than usual, escaped", () => {
  const format = tooltip({ names: {}, types: {}, colors: COLORS });
  const html = format({ data: { name: "n3", s: "failed", m: "2.0 s · slow", w: "slower than usual: <b>" } });
  assert.ok(html.endsWith('<span style="color:#d97706">▲</span> slower than usual: &lt;b&gt;'), html);
  assert.ok(!format({ data: { name: "n3" } }).includes("▲"));
});

test("the tooltip sits beside the pointer by the same screen gap at any zoom", () => {
  const view = { k: 0.2, left: 0, top: 0, right: 5000, bottom: 3000 };
  assert.deepEqual(tipPosition([100, 200], [80, 40], view), [100 + 14 / 0.2, 200 + 14 / 0.2]);
  const zoomed = { k: 4, left: 0, top: 0, right: 300, bottom: 200 };
  assert.deepEqual(tipPosition([10, 20], [80, 40], zoomed), [10 + 14 / 4, 20 + 14 / 4]);
});

test("the tooltip flips to the pointer's other side at the right and bottom of the visible canvas", () => {
  const view = { k: 0.5, left: 0, top: 0, right: 1000, bottom: 600 };
  // 120 x 60 screen px are 240 x 120 chart px at this zoom: no room right of x = 900 or below y = 550
  const [x, y] = tipPosition([900, 550], [120, 60], view);
  assert.equal(x, 900 - 28 - 240);
  assert.equal(y, 550 - 28 - 120);
});

test("the tooltip stays inside the visible part of the canvas as far as it fits", () => {
  const view = { k: 1, left: 200, top: 100, right: 400, bottom: 300 };
  assert.deepEqual(tipPosition([210, 110], [300, 50], view), [200, 124]); // wider than the box: its left edge
  assert.deepEqual(tipPosition([150, 120], [50, 50], view), [200, 134]); // the pointer left of the box
});

test("zoomed out past the card lines, a card shows its name short, in a font about 11 px high on the screen", () => {
  // a 140 x 46 px card at 40%: a 27 px font (10.8 px on the screen), 7 characters in the card's 128 px
  assert.deepEqual(shortName(0.4, [140, 46]), { font: 27, chars: 7 });
  // at 30% the font grows only as far as six characters still fit (10.5 px on the screen)
  assert.deepEqual(shortName(0.3, [140, 46]), { font: 35, chars: 6 });
  // a wider card holds more
  assert.deepEqual(shortName(0.4, [240, 46]), { font: 27, chars: 14 });
  // a short card (31 px, a tall column's) holds a 24 px font: read at 45%, not at 30% (7.2 px)
  assert.deepEqual(shortName(0.45, [140, 31]), { font: 24, chars: 8 });
  assert.equal(shortName(0.3, [140, 31]), null);
  // at 20% even the largest font the card holds would be 7 px: no name
  assert.equal(shortName(0.2, [140, 46]), null);
});

test("a short name is cut at its end, counted in characters, and cannot leave its rich-text block", () => {
  const names = { a: "Fetch new orders", b: "Pay", c: "{x|y}", d: "Charge the card", e: "🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪" };
  const format = shortLabel({ names }, { font: 27, chars: 7 });
  assert.equal(format({ data: { name: "a", m: "12 ms" } }), "{short|Fetch…}"); // the name alone, no space before the cut
  assert.equal(format({ data: { name: "b" } }), "{short|Pay}");
  assert.equal(format({ data: { name: "c" } }), "{short|(x/y)}");
  assert.equal(format({ data: { name: "d" } }), "{short|Charge…}");
  assert.equal(format({ data: { name: "e" } }), "{short|🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪…}"); // a flag is one character
  assert.equal(format({ data: { name: "unknown-id" } }), "{short|unknow…}");
});

test("a visitor who asks for less motion gets no flowing dots and a still halo around a running card", () => {
  const [flow, pulse] = motion([140, 46], true);
  assert.deepEqual(flow, { id: "flow", effect: { show: false } });
  assert.deepEqual(pulse, {
    id: "pulse",
    showEffectOn: "emphasis",
    symbolSize: [150, 56],
    itemStyle: { opacity: 0.45 },
  });
  const [moving, ripple] = motion([140, 46], false);
  assert.deepEqual(moving, { id: "flow", effect: { show: true } });
  assert.deepEqual(ripple, { id: "pulse", showEffectOn: "render", symbolSize: [140, 46], itemStyle: { opacity: 1 } });
});
