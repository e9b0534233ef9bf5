// Tells the server the system's light or dark mode (see system_mode.py): once mounted (NiceGUI holds the event until
// the page's socket is up) and at each change of the media query while the page is open.
const QUERY = "(prefers-color-scheme: dark)";

export default {
  template: '<span style="display: none"></span>',
  mounted() {
    this.media = matchMedia(QUERY);
    this.onChange = () => this.$emit("system_mode", { dark: this.media.matches });
    this.media.addEventListener("change", this.onChange);
    this.onChange();
  },
  beforeUnmount() {
    this.media.removeEventListener("change", this.onChange);
  },
};
