// The node list in the browser: one row per node, rendered here from row data, drawn once and then patched (the
// rows that changed, matched by id; see node_list.py). Rows keep the shape tests and screen readers rely on:
// data-testid="node-<id>", role=listitem, the status word in .fm-node-status, and data-status for scripts; a node
// slower than usual has a marker (data-testid="slow-marker") whose title says by how much. Clicks and Enter emit
// "select" with the node id. A row picked elsewhere (the patch says `reveal`) is brought into view by scrolling the
// list itself, never the page: to the middle of the list's part on the screen (above the inspector's sheet on a
// narrow window) when it is out of it, not at all when it is in it. A row tapped in the list where the sheet comes on a
// narrow window (the patch says `lift`) is lifted above it: the page scrolls.
import patched from "fm-patched";
import { headerBottom, liftBy, liftPage, screenBottom } from "fm-sheet";

// Where the list scrolls to show a row: `view` is the part of the list's content in view {top, height}, `row` the
// row's {top, height} in the list's content. Null when the whole row is in view already, else the top of the view
// that puts the row in its middle (the browser stops the scroll at the list's ends).
export function revealTop(view, row) {
  if (view.height <= 0 || (row.top >= view.top && row.top + row.height <= view.top + view.height)) return null;
  return Math.round(row.top - (view.height - row.height) / 2);
}

// The part of the list's box [top, bottom] (px from the top of the window) that is on the screen [from, to], the
// app's header being above `from`: all of its box when less than `least` px of it is (the reader scrolls the page
// to the list).
export function onScreen(top, bottom, from, to, least) {
  const [shownTop, shownBottom] = [Math.max(top, from), Math.min(bottom, to)];
  return shownBottom - shownTop >= least ? [shownTop, shownBottom] : [top, bottom];
}

export default {
  mixins: [patched],
  template: `
    <div role="list" aria-label="Nodes" data-testid="node-list" @click="pick" @keydown.enter="pick">
      <div v-for="row in items" :key="row.id" class="fm-nr" :class="{ 'fm-nr-selected': row.id === chosen }"
           role="listitem" tabindex="0" :data-testid="'node-' + row.id" :data-node="row.id" :data-status="row.status">
        <i class="q-icon material-icons" aria-hidden="true" :style="{ color: row.color }">{{ row.icon }}</i>
        <div class="fm-nr-main">
          <div class="fm-nr-name">{{ row.name }}</div>
          <div class="fm-nr-id">{{ row.caption }}</div>
        </div>
        <div class="fm-nr-side">
          <div class="fm-node-status" :style="{ color: row.color }">{{ row.status }}</div>
          <div class="fm-nr-detail">
            <span v-if="row.slow" class="fm-nr-slow" :title="row.slow" data-testid="slow-marker">▲ slow</span>
            {{ row.detail }}
          </div>
        </div>
      </div>
    </div>`,
  data() {
    return { items: [], chosen: null };
  },
  methods: {
    // snapshot: {rows: [row, ...], selected: id or null}
    draw(snapshot) {
      this.items = snapshot.rows;
      this.index = {};
      this.items.forEach((row, i) => (this.index[row.id] = i));
      this.chosen = snapshot.selected;
      if (this.chosen !== null) this.$nextTick(() => this.reveal(this.chosen));
    },
    // diff: {rows: [changed row, ...]} (each complete, matched by id) and/or {selected: id or null}
    update(diff) {
      for (const row of diff.rows || []) {
        const i = this.index[row.id];
        if (i !== undefined) this.items[i] = row;
      }
      if ("selected" in diff) this.chosen = diff.selected;
      if (diff.reveal && diff.selected !== null) this.reveal(diff.selected);
      if (diff.lift && diff.selected !== null) this.lift(diff.selected);
    },
    // Scroll the page so the row of node `id`, tapped where the inspector's sheet opens, is seen above it.
    lift(id) {
      const box = this.$el?.children[this.index[id]]?.getBoundingClientRect();
      if (box) liftPage(liftBy(box.top, box.bottom, headerBottom(), window.innerWidth, window.innerHeight));
    },
    // Scroll the list (its own box, not the page) so the row of node `id` is in its part on the screen, when not.
    reveal(id) {
      const box = this.$el;
      const row = box?.children[this.index[id]];
      if (!row) return;
      const inner = box.getBoundingClientRect().top + box.clientTop; // the top of the list's view on the screen
      const header = headerBottom();
      const bottom = screenBottom(window.innerWidth, window.innerHeight);
      const [from, to] = onScreen(inner, inner + box.clientHeight, header, bottom, 2 * row.offsetHeight);
      const top = row.getBoundingClientRect().top - inner + box.scrollTop;
      const view = { top: box.scrollTop + from - inner, height: to - from };
      const at = revealTop(view, { top, height: row.offsetHeight });
      if (at !== null) box.scrollTop = Math.max(0, at - (from - inner));
    },
    pick(event) {
      const row = event.target.closest("[data-node]");
      if (row) this.$emit("select", row.dataset.node);
    },
  },
};
