// The node list in the browser: one row per node, rendered here from row data, patched O(changed).
// Rows keep the shape tests and screen readers rely on: data-testid="node-<id>", role=listitem, the status
// word in .fm-node-status, and data-status for scripts. Clicks and Enter emit "select" with the node id.
export default {
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
          <div class="fm-nr-detail">{{ row.detail }}</div>
        </div>
      </div>
    </div>`,
  props: { rows: String, selected: String },
  data() {
    // Parsed from the props once: later patches change it, and the props are never re-sent (see node_list.py).
    return { items: JSON.parse(this.rows), chosen: this.selected || null };
  },
  created() {
    this.index = {};
    this.items.forEach((row, i) => (this.index[row.id] = i));
  },
  mounted() {
    this.$emit("ready");
  },
  methods: {
    // rows: changed rows only, each complete; matched by id
    patch(rows) {
      for (const row of rows) {
        const i = this.index[row.id];
        if (i !== undefined) this.items[i] = row;
      }
    },
    select(nodeId) {
      this.chosen = nodeId;
    },
    pick(event) {
      const row = event.target.closest("[data-node]");
      if (row) this.$emit("select", row.dataset.node);
    },
  },
};
