// The event log's lines in the browser: one element however many lines, appended to in chunks (one <div> per
// append, older chunks skipped by layout while out of view) and trimmed here to the newest `max` lines, so the
// server only ever sends new lines. The view follows new lines only while the reader is at the bottom: whether
// to follow is decided by the reader's own scrolling (wheel, touch, keys, scrollbar), never by the scroll events
// that appending or trimming cause, and scrolling up stops following at once, before the next lines arrive.
// Lines arrive as cells of text and become text nodes (textContent): node ids, errors and reasons come from
// executions and imports, and are never parsed as markup. Drawn once and then patched (see event_log.py).
import patched from "fm-patched";

// cells: [time offset, #seq, type, colour kind ("" for none), node id, detail]
function lineElement(cells) {
  const [time, seq, type, kind, node, detail] = cells;
  const line = document.createElement("div");
  line.className = "fm-ev";
  for (const [css, text] of [
    ["t", time],
    ["s", seq],
    [kind ? `k k-${kind}` : "k", type],
    ["n", node],
    ["d", detail],
  ]) {
    const cell = document.createElement("span");
    cell.className = css;
    cell.textContent = text;
    line.appendChild(cell);
  }
  return line;
}

// The rows that lines with these [node, detail] take, [in columns, on a phone]: in columns a line is one row and
// its detail's line breaks (an error may hold some); on a phone (see event_log.py) the node and detail follow the
// type on rows of `cols` letters, wrapped anywhere, each line break starting a row.
function rowsOf(lines, cols) {
  let wide = 0;
  let narrow = 0;
  for (const [node, detail] of lines) {
    const tail = node && detail ? `${node} ${detail}` : node || detail;
    wide += 1 + (detail.match(/\n/g) || []).length;
    narrow += 1;
    if (tail) for (const part of tail.split("\n")) narrow += Math.max(1, Math.ceil(part.length / cols));
  }
  return [wide, narrow];
}

// Sizes a chunk of lines for while it is skipped by layout (its --n and --n2, see event_log.py).
function size(chunk, lines, cols) {
  const [wide, narrow] = rowsOf(lines, cols);
  chunk.style.setProperty("--n", wide);
  chunk.style.setProperty("--n2", narrow);
}

export default {
  mixins: [patched],
  template: `
    <div role="log" aria-live="off" tabindex="0" class="fm-log"
         @scroll="scrolled" @wheel="byUser" @touchmove="byUser" @keydown="byUser" @mousedown="byUser"
         @mousemove="(e) => e.buttons && byUser(e)"></div>`,
  props: { max: Number },
  beforeUnmount() {
    if (this.resized) this.resized.disconnect();
  },
  methods: {
    prepare() {
      this.$el.dataset.stick = "1";
      this.count = 0;
      this.measure();
      this.resized = new ResizeObserver(() => this.measure());
      this.resized.observe(this.$el);
    },
    // how many letters a phone's indented row of the log holds (measured on resizes only, never per line)
    measure() {
      const el = this.$el;
      const probe = document.createElement("span");
      probe.textContent = "0".repeat(100);
      probe.style.cssText = "position:absolute;visibility:hidden;white-space:pre";
      el.appendChild(probe);
      const letter = probe.getBoundingClientRect().width / 100 || 7.2;
      probe.remove();
      const style = getComputedStyle(el);
      const width = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      this.cols = Math.max(8, Math.floor(width / letter) - 2);
    },
    // snapshot: {lines: [cells, ...]}: every line, shown from the bottom (a filter changed, a replay seeked back)
    draw(snapshot) {
      this.$el.replaceChildren();
      this.count = 0;
      this.add(snapshot.lines);
      this.follow(true);
    },
    // diff: {lines: [cells, ...]} new lines, or {follow: true} to scroll to the newest line and follow again
    update(diff) {
      this.add(diff.lines);
      this.follow(Boolean(diff.follow));
    },
    add(lines) {
      if (!lines || !lines.length) return;
      const chunk = document.createElement("div");
      for (const cells of lines) chunk.appendChild(lineElement(cells));
      // its height while skipped (see event_log.py)
      size(
        chunk,
        lines.map((c) => [c[4], c[5]]),
        this.cols,
      );
      this.count += chunk.childElementCount;
      this.$el.appendChild(chunk);
      this.trim();
    },
    // Trimmed while the reader reads above the newest lines, the log keeps the line they read where it was: the
    // lines removed above it no longer push it up (measured on the newest chunk, which trimming never removes
    // first; the browser's own scroll anchoring is off for the log, so the two never both correct the view).
    trim() {
      const el = this.$el;
      if (this.count <= this.max) return;
      const reading = el.dataset.stick === "0" && el.lastElementChild;
      const top = el.scrollTop;
      const at = reading ? reading.offsetTop : 0;
      while (this.count > this.max && el.firstElementChild) {
        const first = el.firstElementChild;
        const extra = this.count - this.max;
        if (first.childElementCount <= extra) {
          this.count -= first.childElementCount;
          first.remove();
        } else {
          // the rest moves to a new chunk: one skipped by layout keeps the height it was last drawn at, taller than
          // its lines once some are gone, and would shrink (moving what is below) when the reader scrolls to it
          const rest = [...first.children].slice(extra);
          const chunk = document.createElement("div");
          chunk.append(...rest);
          const cells = rest.map((line) => [line.children[3].textContent, line.children[4].textContent]);
          size(chunk, cells, this.cols);
          first.replaceWith(chunk);
          this.count -= extra;
        }
      }
      if (reading && reading.isConnected) el.scrollTop = Math.max(0, top - (at - reading.offsetTop));
    },
    // scroll to the newest line unless the reader has scrolled away (checked again right before scrolling:
    // the reader may move between this message and the next frame); twice, once the chunks above have settled
    follow(force) {
      const el = this.$el;
      if (force) Object.assign(el.dataset, { stick: "1", dir: "", user: "0" });
      const down = () => {
        if (el.dataset.stick === "0") return;
        el.dataset.auto = String(Date.now());
        el.scrollTop = el.scrollHeight;
      };
      requestAnimationFrame(() => {
        down();
        requestAnimationFrame(down);
      });
    },
    byUser(e) {
      const el = this.$el;
      el.dataset.user = String(Date.now());
      const up = (e.type === "wheel" && e.deltaY < 0) || ["ArrowUp", "PageUp", "Home"].includes(e.key);
      el.dataset.dir = up ? "up" : e.type === "wheel" || e.type === "keydown" ? "down" : "";
      if (up) el.dataset.stick = "0";
    },
    scrolled() {
      const el = this.$el;
      const now = Date.now();
      if (now - Number(el.dataset.user || 0) > 3000 || now - Number(el.dataset.auto || 0) < 150) return;
      const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < 32;
      if (!bottom) el.dataset.stick = "0";
      else if (el.dataset.dir !== "up") el.dataset.stick = "1";
    },
  },
};
