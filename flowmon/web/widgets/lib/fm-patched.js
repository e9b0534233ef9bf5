// Draw once, then patch: the browser half of flowmon's component protocol (Python half: widgets/patched.py).
//
//   mounted          the component gets ready (`prepare()`, which may be async), then emits "ready"
//   reset(snapshot)  the server's answer to "ready", and its way to start over: `draw(snapshot)` shows
//                    everything from scratch
//   patch(diff)      after that, only what changed: `update(diff)`
//
// The server sends nothing before "ready", so no message reaches a component that does not exist yet. A
// re-mounted component is a new instance: it says "ready" again and ignores patches meant for its predecessor
// until its own reset arrives. A component mixes this in and defines `draw` and `update` (and `prepare` when it
// has to build something first, such as a chart).
export default {
  async mounted() {
    this.drawn = false;
    if (this.prepare) await this.prepare();
    if (this.gone) return; // removed while preparing: no one is listening
    this.$emit("ready");
  },
  beforeUnmount() {
    this.gone = true;
  },
  methods: {
    reset(snapshot) {
      this.drawn = true;
      this.draw(snapshot);
    },
    patch(diff) {
      if (this.drawn) this.update(diff);
    },
  },
};
