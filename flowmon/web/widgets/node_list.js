// The node list in the browser: one row per node, rendered here from row data, drawn once and then patched (the
// rows that changed, matched by id; see node_list.py). Rows keep the shape tests and screen readers rely on:
// data-testid="node-<id>", role=listitem, the status word in .fm-node-status, and data-status for scripts; a node
// slower than usual has a marker (data-testid="slow-marker") whose title says by how much. Clicks and Enter emit
// "select" with the node id.
import patched from "fm-patched";

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
    },
    // diff: {rows: [changed row, ...]} (each complete, matched by id) and/or {selected: id or null}
    update(diff) {
      for (const row of diff.rows || []) {
        const i = this.index[row.id];
        if (i !== undefined) this.items[i] = row;
      }
      if ("selected" in diff) this.chosen = diff.selected;
    },
    pick(event) {
      const row = event.target.closest("[data-node]");
      if (row) this.$emit("select", row.dataset.node);
    },
  },
};
