// While armed, the browser asks before the page goes away (closing the tab, reloading, a link out of the app,
// signing out): the workflow editor arms it while its text holds edits not saved (see leave_guard.py). The listener
// lives and dies with the element.
export default {
  template: '<span style="display: none" :data-armed="armed"></span>',
  props: { armed: Boolean },
  mounted() {
    this.ask = (e) => {
      if (!this.armed) return;
      e.preventDefault();
      e.returnValue = ""; // (older Chromium shows the prompt only when returnValue is set)
    };
    window.addEventListener("beforeunload", this.ask);
  },
  methods: {
    // Back on the page with edits when the back or forward button had moved the address (see routing.py).
    keepAddress(path) {
      const full = (window.path_prefix || "") + path;
      if (location.pathname + location.search + location.hash !== full) history.pushState({ page: path }, "", full);
    },
  },
  beforeUnmount() {
    window.removeEventListener("beforeunload", this.ask);
  },
};
