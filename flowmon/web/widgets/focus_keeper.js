// Keeps the keyboard's place when the element that has focus leaves the page, and moves it between a menu's entries
// with the arrow keys (see focus_keeper.py).
// a modal dialog while it is shown (Quasar's class; a seamless one, such as the node inspector, leaves the page usable)
const MODAL = ".q-dialog--modal";
const CHECK_MS = 150; // how often it looks whether the focused element has gone
const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), textarea, [tabindex]:not([tabindex="-1"])';

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

// A character typed in a menu that has a text box (the workflows' filter) goes into that box.
// A menu's entries, in order, that the arrow keys move between (disabled and hidden ones, those a filter leaves out,
// are skipped).
function entries(menu) {
  return [...menu.querySelectorAll('[role="menuitem"]')].filter(
    (e) => e.getAttribute("aria-disabled") !== "true" && !e.classList.contains("hidden"),
  );
}

const MOVES = { ArrowDown: 1, ArrowUp: -1, Home: "first", End: "last" };

export default {
  template: '<span style="display: none"></span>',
  mounted() {
    this.current = null; // the element that last took focus
    this.opener = null; // the last one outside a dialog or menu, and its key
    this.openerKey = null;
    this.onFocusIn = (e) => {
      const target = e.target;
      if (!(target instanceof HTMLElement)) return;
      // a modal dialog keeps focus: Tab pressed quickly past its last control can leave it for the page (Quasar's
      // trap lets a key through while it wraps round); focus goes back into the dialog, and the control it reached
      // on the page is not taken for the one that opened the dialog. A seamless one (the node inspector) does not.
      const dialog = [...document.querySelectorAll(MODAL)].pop();
      if (dialog && !target.closest(`${MODAL}, .q-menu`)) {
        const inside = dialog.querySelector(FOCUSABLE);
        if (inside) {
          inside.focus();
          return;
        }
      }
      this.current = target;
      if (!target.closest(`${MODAL}, .q-menu`) && !dialog) {
        this.opener = target;
        this.openerKey = keyOf(target);
      }
    };
    this.onChange = () => {
      const lost = this.current;
      if (!lost || lost.isConnected || document.activeElement !== document.body) return;
      // a dialog still on the page (fading out, or another one opening, which takes focus itself): look again later
      if (document.querySelector(".q-dialog")) return;
      this.current = null;
      const back = this.opener && this.opener.isConnected ? this.opener : twin(this.openerKey);
      if (back) back.focus({ preventScroll: true });
    };
    this.onKeyDown = (e) => {
      const move = MOVES[e.key];
      const typed = e.key.length === 1 && e.key !== " "; // a character (Space chooses an entry)
      // in a menu, or on the page while one is open (Quasar gives it focus once it has faded in: a key pressed at
      // once would be lost)
      const keyed = (move || typed) && e.target instanceof Element;
      const inside = keyed ? e.target.closest(".q-menu") : null;
      const menu = inside || (keyed && e.target === document.body ? document.querySelector(".q-menu") : null);
      if (!menu || e.ctrlKey || e.altKey || e.metaKey) return;
      const typing = e.target instanceof HTMLInputElement;
      if (typed) {
        // a character typed on a menu with a filter box (the workflows') goes into the box, which takes focus first
        const box = typing ? null : menu.querySelector("input");
        if (box) box.focus();
        return;
      }
      // in a text box (a menu's filter) Home and End move in the text; the arrows move to the entries
      if (typeof move === "string" && typing) return;
      const items = entries(menu);
      if (!items.length) return;
      e.preventDefault();
      const at = items.indexOf(e.target.closest('[role="menuitem"]'));
      let next;
      if (move === "first") next = 0;
      else if (move === "last") next = items.length - 1;
      else if (at < 0) next = move > 0 ? 0 : items.length - 1;
      else next = (at + move + items.length) % items.length;
      items[next].focus();
    };
    document.addEventListener("focusin", this.onFocusIn);
    document.addEventListener("keydown", this.onKeyDown);
    // looked at a few times a second, not on every change of the page: a live page changes all the time
    this.timer = setInterval(this.onChange, CHECK_MS);
  },
  beforeUnmount() {
    document.removeEventListener("focusin", this.onFocusIn);
    document.removeEventListener("keydown", this.onKeyDown);
    clearInterval(this.timer);
  },
};
