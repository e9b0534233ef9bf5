// How node names are made to fit (flowmon/web/widgets/lib/fm-names.js): cut in their middle, by characters as a
// reader counts them, for the canvas's cards (by count) and the Timeline's axis (by what a measure lets fit).
import assert from "node:assert/strict";
import { test } from "node:test";

import { characters, cutTo, middleCut } from "fm-names";

test("characters are counted as a reader sees them: a flag or a joined emoji sequence is one", () => {
  assert.deepEqual(characters("a🇩🇪b"), ["a", "🇩🇪", "b"]);
  assert.deepEqual(characters("👩‍👩‍👧x"), ["👩‍👩‍👧", "x"]);
  assert.deepEqual(characters(""), []);
});

test("a name longer than the limit is cut in its middle to the limit, the ellipsis included", () => {
  assert.equal(cutTo("Process shard 1 (A-C)", 12), "Proces…(A-C)");
  assert.equal(cutTo("abcdefghij", 6), "abc…ij"); // one more before the cut than after it
  assert.equal(cutTo("abcdef", 6), "abcdef");
  assert.equal(cutTo("ab  cd  ef", 6), "ab…ef"); // no blank left beside the ellipsis
});

test("a node's name too long for the axis is cut in its middle, so names alike but at their end stay apart", () => {
  const fits = (text) => Array.from(text).length <= 12;
  assert.equal(middleCut("Process shard 1 (A-C)", fits), "Proces…(A-C)");
  assert.equal(middleCut("Process shard 2 (D-F)", fits), "Proces…(D-F)");
  assert.equal(middleCut("Short name", fits), "Short name");
  assert.equal(
    middleCut("🇫🇷🇩🇪🇮🇹🇪🇸🇵🇹🇳🇱🇧🇪🇦🇹🇨🇭🇵🇱🇸🇪🇳🇴🇩🇰🇫🇮", (t) => characters(t).length <= 5),
    "🇫🇷🇩🇪…🇩🇰🇫🇮",
  );
  assert.equal(
    middleCut("abcdef", () => false),
    "…",
  ); // (not even its first character fits)
  assert.equal(
    middleCut("abcdef", (text) => text.length <= 2),
    "a…",
  );
});

test("cut by measure, a name keeps at least what the cut by count keeps, never more than the room", () => {
  // (the same cut, but a measure gains back the room of a blank trimmed beside the ellipsis)
  const names = ["Process shard 111 (north)", "Normalise customer addresses", "🙂".repeat(30), "a b c d e f g h i j k"];
  for (const name of names) {
    for (let limit = 2; limit <= 30; limit++) {
      const measured = characters(middleCut(name, (t) => characters(t).length <= limit));
      const counted = characters(cutTo(name, limit));
      assert.ok(measured.length <= limit, `${name} in ${limit}`);
      assert.ok(measured.length >= counted.length, `${name} in ${limit}: ${measured.join("")} < ${counted.join("")}`);
    }
  }
  assert.equal(cutTo("Process shard 111 (north)", 17), "Process…(north)");
  assert.equal(
    middleCut("Process shard 111 (north)", (t) => characters(t).length <= 17),
    "Process s…(north)",
  );
});
