// Swallows Space while this component is on the page and no field or button has focus (see space_guard.py).
const FOCUSABLE = ["INPUT", "TEXTAREA", "BUTTON"];

export default {
  template: '<span style="display: none"></span>',
  mounted() {
    this.guard = (e) => {
      const tag = (document.activeElement && document.activeElement.tagName) || "";
      if (e.key === " " && !FOCUSABLE.includes(tag)) e.preventDefault();
    };
    document.addEventListener("keydown", this.guard);
  },
  beforeUnmount() {
    document.removeEventListener("keydown", this.guard);
  },
};
