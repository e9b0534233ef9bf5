// Node names made to fit, for the canvas's cards (dag_chart.js) and the Timeline's axis (timeline_chart.js): cut in
// their middle, since the end of a name often tells nodes apart ("Process shard 1 (A-C)", "Process shard 2 (D-F)")
// where a cut at the end leaves their common start. Counted in characters as a reader sees them: a flag or an emoji
// sequence is one, never split.
const graphemes = new Intl.Segmenter();

// The characters of `text` as a reader counts them.
export function characters(text) {
  return Array.from(graphemes.segment(text), (part) => part.segment);
}

// `chars` cut to `kept` of them and an ellipsis in their middle (one more kept before it than after it when odd).
function middle(chars, kept) {
  const start = chars.slice(0, Math.ceil(kept / 2)).join("");
  const end = chars.slice(chars.length - Math.floor(kept / 2)).join("");
  return `${start.trimEnd()}…${end.trimStart()}`;
}

// `text` cut in its middle to `limit` characters at the most, the ellipsis included.
export function cutTo(text, limit) {
  const chars = characters(text);
  return chars.length <= limit ? text : middle(chars, limit - 1);
}

// `text` cut in its middle to the most that `fits` (whether a text is narrow enough) takes; "…" alone when not even
// its first character does (a long emoji sequence is one).
export function middleCut(text, fits) {
  if (fits(text)) return text;
  const chars = characters(text);
  let [low, high, best] = [1, chars.length - 1, `${chars[0] ?? ""}…`];
  while (low <= high) {
    const kept = (low + high) >> 1;
    const cut = middle(chars, kept);
    if (fits(cut)) [best, low] = [cut, kept + 1];
    else high = kept - 1;
  }
  return fits(best) ? best : "…";
}
