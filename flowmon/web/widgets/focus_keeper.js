// Keeps the keyboard's place when the element that has focus leaves the page (see focus_keeper.py).
const DIALOG = ".q-dialog, .q-menu";

function keyOf(element) {
  return element.getAttribute("aria-label") || element.dataset.testid || null;
}

function twin(key) {
  if (!key) return null;
  const found = [...document.querySelectorAll("[aria-label], [data-testid]")].filter(
    (e) => keyOf(e) === key && (e.offsetParent !== null || e.getClientRects().length > 0),
  );
  return found.length === 1 ? found[0] : null;
}

export default {
  template: '<span style="display: none"></span>',
  mounted() {
    this.current = null; // the element that last took focus
    this.opener = null; // the last one outside a dialog or menu, and its key
    this.openerKey = null;
    this.onFocusIn = (e) => {
      const target = e.target;
      if (!(target instanceof HTMLElement)) return;
      this.current = target;
      if (!target.closest(DIALOG)) {
        this.opener = target;
        this.openerKey = keyOf(target);
      }
    };
    this.onChange = () => {
      const lost = this.current;
      if (!lost || lost.isConnected || document.activeElement !== document.body) return;
      this.current = null;
      if (document.querySelector(".q-dialog")) return; // another dialog opens: it takes focus itself
      const back = this.opener && this.opener.isConnected ? this.opener : twin(this.openerKey);
      if (back) back.focus({ preventScroll: true });
    };
    document.addEventListener("focusin", this.onFocusIn);
    this.observer = new MutationObserver(this.onChange);
    this.observer.observe(document.body, { childList: true, subtree: true });
  },
  beforeUnmount() {
    document.removeEventListener("focusin", this.onFocusIn);
    this.observer.disconnect();
  },
};
