// The DAG canvas's edge layer in the browser: an SVG of curves with arrow heads and branch labels, built once
// from the `geometry` prop (see dag_edges.py), then patched: an edge that data has passed along gets the class
// "c" (drawn solid). Labels are set as textContent.
import patched from "fm-patched";

const SVG = "http://www.w3.org/2000/svg";

export default {
  mixins: [patched],
  template: "<div></div>",
  props: { geometry: String },
  methods: {
    prepare() {
      const { viewBox, paths, labels, arrows, arrowOffset } = JSON.parse(this.geometry);
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", viewBox);
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("aria-hidden", "true");
      this.paths = paths.map((d) => {
        const path = document.createElementNS(SVG, "path");
        path.setAttribute("d", d);
        return svg.appendChild(path);
      });
      const marks = [svg];
      for (const [left, top, text] of labels) {
        const label = document.createElement("div");
        label.className = "fm-branch";
        label.style.left = `${left}%`;
        label.style.top = `${top}%`;
        label.textContent = text;
        marks.push(label);
      }
      for (const [left, top] of arrows) {
        const arrow = document.createElement("div");
        arrow.className = "fm-arrow";
        arrow.style.left = `calc(${left}% - ${arrowOffset}px)`;
        arrow.style.top = `calc(${top}% - 4.5px)`;
        marks.push(arrow);
      }
      this.$el.replaceChildren(...marks);
    },
    // snapshot: {carried: [edge index, ...]}: every edge data has passed along
    draw(snapshot) {
      const carried = new Set(snapshot.carried);
      this.paths.forEach((path, i) => path.classList.toggle("c", carried.has(i)));
    },
    // diff: {carried: [edge index, ...], cleared: [edge index, ...]}
    update(diff) {
      for (const i of diff.carried || []) this.paths[i]?.classList.add("c");
      for (const i of diff.cleared || []) this.paths[i]?.classList.remove("c");
    },
  },
};
