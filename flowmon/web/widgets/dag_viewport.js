// The DAG canvas's viewport in the browser (see dag_viewport.py): the canvas (chart and edge layer together) is one
// "stage" that this component moves and scales with a CSS transform, so the SVG edges and the node cards can never
// drift apart. The wheel zooms about the pointer, a drag pans (a press that moves less than a few pixels stays a
// click on a node), and the buttons zoom in, zoom out and fit the whole graph into view. The zoom factor is
// published as data-zoom on the viewport.
const MIN_ZOOM = 0.05;
const MAX_ZOOM = 4;
const DRAG_PX = 4; // a press that moves less is a click, not a drag

export function clampZoom(k) {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k));
}

// The view {k, x, y} zoomed by `factor` about the point (px, py) of the viewport: that point stays put.
export function zoomAt(view, factor, px, py) {
  const k = clampZoom(view.k * factor);
  const f = k / view.k;
  return { k, x: px - (px - view.x) * f, y: py - (py - view.y) * f };
}

// The view that shows a stage of `width` x `height` whole and centred in a `vw` x `vh` viewport (never enlarged).
export function fitView(width, height, vw, vh) {
  const k = clampZoom(Math.min(vw / Math.max(width, 1), vh / Math.max(height, 1), 1));
  return { k, x: (vw - width * k) / 2, y: (vh - height * k) / 2 };
}

export default {
  template: `
    <div>
      <slot></slot>
      <div class="fm-zoom" @wheel.stop>
        <button type="button" title="Zoom in" aria-label="Zoom in" data-testid="dag-zoom-in" @click="zoomBy(1.25)">+</button>
        <button type="button" title="Zoom out" aria-label="Zoom out" data-testid="dag-zoom-out" @click="zoomBy(0.8)">−</button>
        <button type="button" title="Fit the whole graph into view" data-testid="dag-fit" @click="fit">Fit</button>
      </div>
    </div>`,
  mounted() {
    this.view = { k: 1, x: 0, y: 0 };
    this.onWheel = (e) => this.wheel(e);
    this.onDown = (e) => this.down(e);
    this.onMove = (e) => this.move(e);
    this.onUp = () => this.up();
    // the click that ends a drag is no click on a node (ECharts measures the press in the moved chart: no move)
    this.onClick = (e) => this.dragged && (e.stopPropagation(), e.preventDefault());
    this.$el.addEventListener("wheel", this.onWheel, { passive: false });
    this.$el.addEventListener("pointerdown", this.onDown, true);
    this.$el.addEventListener("click", this.onClick, true);
    // a graph wider than the viewport starts fitted: all of it in view, to zoom into
    requestAnimationFrame(() => (this.stage()?.offsetWidth > this.$el.clientWidth + 1 ? this.fit() : this.show()));
  },
  beforeUnmount() {
    this.$el.removeEventListener("wheel", this.onWheel);
    this.$el.removeEventListener("pointerdown", this.onDown, true);
    this.$el.removeEventListener("click", this.onClick, true);
    this.up();
  },
  methods: {
    stage() {
      return this.$el.firstElementChild;
    },
    show() {
      const stage = this.stage();
      if (!stage) return;
      const { k, x, y } = this.view;
      stage.style.transform = `translate(${x}px, ${y}px) scale(${k})`;
      this.$el.dataset.zoom = k.toFixed(3);
    },
    zoomBy(factor) {
      this.view = zoomAt(this.view, factor, this.$el.clientWidth / 2, this.$el.clientHeight / 2);
      this.show();
    },
    fit() {
      const stage = this.stage();
      if (!stage) return;
      this.view = fitView(stage.offsetWidth, stage.offsetHeight, this.$el.clientWidth, this.$el.clientHeight);
      this.show();
    },
    wheel(e) {
      e.preventDefault();
      const box = this.$el.getBoundingClientRect();
      const step = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY; // lines or pixels
      this.view = zoomAt(this.view, Math.exp(-step * 0.0015), e.clientX - box.left, e.clientY - box.top);
      this.show();
    },
    down(e) {
      this.dragged = false;
      if (e.button !== 0 || e.target.closest?.(".fm-zoom")) return; // the buttons are buttons
      this.press = { x: e.clientX, y: e.clientY, from: { ...this.view }, dragging: false };
      window.addEventListener("pointermove", this.onMove);
      window.addEventListener("pointerup", this.onUp);
      window.addEventListener("pointercancel", this.onUp);
    },
    move(e) {
      const press = this.press;
      if (!press) return;
      const dx = e.clientX - press.x;
      const dy = e.clientY - press.y;
      if (!press.dragging && Math.hypot(dx, dy) < DRAG_PX) return;
      press.dragging = true;
      this.$el.classList.add("fm-panning");
      this.view = { ...press.from, x: press.from.x + dx, y: press.from.y + dy };
      this.show();
    },
    up() {
      this.dragged = Boolean(this.press?.dragging);
      this.press = null;
      this.$el?.classList.remove("fm-panning");
      window.removeEventListener("pointermove", this.onMove);
      window.removeEventListener("pointerup", this.onUp);
      window.removeEventListener("pointercancel", this.onUp);
    },
  },
};
