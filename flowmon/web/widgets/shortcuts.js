// Keyboard shortcuts on every page (see shortcuts.py). Keys typed into a field, with Ctrl, Alt or Meta, or while a modal
// dialog is open are left alone. Navigation and the help dialog are the server's (events); "/" focuses the page's
// search box (or opens the execution list and focuses its box); "r" and "c" press the page's button marked
// data-fm-shortcut="run" or "cancel", so they do exactly what that button does (its confirmation included).
import { isTyping, keySequencer } from "fm-keys";

const SEARCH_WAIT_MS = 3000;

function visible(element) {
  return element.offsetParent !== null || element.getClientRects().length > 0;
}

function marked(selector) {
  return [...document.querySelectorAll(selector)].find(visible) || null;
}

export default {
  template: "<span><slot></slot></span>", // the help dialog lives in the slot (it shows in a layer of its own)
  mounted() {
    const next = keySequencer();
    this.onKey = (event) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
      // a modal dialog holds the keys; the node inspector (a seamless dialog beside the page) does not
      if (isTyping(event.target) || document.querySelector(".q-dialog--modal")) return;
      const action = next(event.key);
      if (action === null) return;
      event.preventDefault();
      this.perform(action);
    };
    document.addEventListener("keydown", this.onKey);
  },
  beforeUnmount() {
    document.removeEventListener("keydown", this.onKey);
    clearInterval(this.searchTimer);
  },
  methods: {
    perform(action) {
      if (action === "help") this.$emit("help");
      else if (action === "search") this.search();
      else if (action === "workflows") marked("[data-fm-shortcut=workflows]")?.click();
      else if (action === "run" || action === "cancel") marked(`[data-fm-shortcut=${action}]`)?.click();
      else if (action.startsWith("go:")) this.$emit("navigate", action.slice(3));
    },
    focusSearch() {
      const box = marked("[data-fm-search]");
      if (box === null) return false;
      (box.matches("input") ? box : box.querySelector("input") || box).focus();
      return true;
    },
    search() {
      if (this.focusSearch()) return;
      this.$emit("navigate", "/executions");
      const until = Date.now() + SEARCH_WAIT_MS;
      clearInterval(this.searchTimer);
      this.searchTimer = setInterval(() => {
        if (this.focusSearch() || Date.now() > until) clearInterval(this.searchTimer);
      }, 50);
    },
  },
};
