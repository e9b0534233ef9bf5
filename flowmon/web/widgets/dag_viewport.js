// The DAG canvas's viewport in the browser (see dag_viewport.py): the canvas (chart and edge layer together) is one
// "stage" that this component moves and scales with a CSS transform, so the SVG edges and the node cards can never
// drift apart. A graph starts at its natural size, or fitted into view when it is wider (on a phone, where fitting
// would shrink its names past reading, and in a canvas that asks for it where fitting would leave its cards unnamed,
// at a legible zoom at its left end: startView). The wheel zooms about the
// pointer, a drag pans (a press that moves less than a few pixels stays a click on a node), two fingers pinch to
// zoom (and pan with their midpoint), and the buttons zoom in, zoom out and fit the whole graph into view. The zoom
// factor is published as data-zoom on the viewport, and each move of the view as an "fm-view" event there (the chart
// draws the names on its cards only where they can be read, and only near the view). A canvas given a `keep` name
// hands the view the visitor moved to on to the canvas drawn next in its place (the editor's preview, redrawn on each
// edit): see keptView.
const MIN_ZOOM = 0.02; // a column of 300 named cards fits a 640 px canvas
const MAX_ZOOM = 4;
const DRAG_PX = 4; // a press that moves less is a click, not a drag
const REVEAL_MARGIN_PX = 24; // a card whose centre is nearer the viewport's edge than this is brought into view
export const NARROW_PX = 640; // a window narrower than this is a phone's (or a narrow window on a desktop)

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

// The view a canvas starts with: a stage that fits the viewport at its natural size, a wider or taller one (a column
// of many cards) fitted into view; but where fitting would shrink its cards below `legible` (the least zoom at which
// their names can be read; null: no names) in a narrow window (`screen` px wide), or below `named` (the zoom below
// which the cards are drawn without names; null: fitted all the same) in any window, at that legible zoom, at its
// left end (where the graph starts), centred vertically (from its top when it is taller than the viewport): a reader
// pans along, or presses Fit for the whole graph.
export function startView(width, height, vw, vh, legible, screen, named = null) {
  if (width <= vw + 1 && height <= vh + 1) return { k: 1, x: 0, y: 0 };
  const fitted = fitView(width, height, vw, vh);
  const cramped = screen < NARROW_PX || (named != null && fitted.k < named);
  if (legible == null || !cramped || fitted.k >= legible) return fitted;
  const k = clampZoom(Math.min(legible, 1));
  return { k, x: 0, y: Math.max(0, (vh - height * k) / 2) }; // (a graph taller than the view: from its top)
}

// The view that shows the point (x, y) of a `vw` x `vh` viewport (where it is drawn now): the same view when that
// point is inside the viewport by REVEAL_MARGIN_PX, else the view moved (at its zoom) to put it in the middle.
export function revealView(view, x, y, vw, vh) {
  const m = REVEAL_MARGIN_PX;
  if (x >= m && x <= vw - m && y >= m && y <= vh - m) return view;
  return { k: view.k, x: view.x + vw / 2 - x, y: view.y + vh / 2 - y };
}

// The view once the viewport has gone from `from` to `to` ([width, height] px; the page narrowed beside an opening
// inspector, say) and the stage, which follows the viewport's width, from `stageFrom` to `stageTo`: the point of the
// graph that was in the viewport's middle (as a fraction of the stage, where the chart lays its nodes out) is in its
// middle again, at the same zoom.
export function resizedView(view, from, to, stageFrom, stageTo = stageFrom) {
  const along = (i, offset) => {
    const share = stageFrom[i] > 0 ? (from[i] / 2 - offset) / view.k / stageFrom[i] : 0.5;
    return to[i] / 2 - share * stageTo[i] * view.k;
  };
  return { k: view.k, x: along(0, view.x), y: along(1, view.y) };
}

// The view while two pointers pinch: `from` was the view when they were at a0 and b0 (viewport points); now they
// are at a1 and b1. The zoom follows the distance between them, and the stage point that was under their midpoint
// is under their midpoint again.
export function pinchView(from, a0, b0, a1, b1) {
  const d0 = Math.hypot(b0.x - a0.x, b0.y - a0.y);
  const d1 = Math.hypot(b1.x - a1.x, b1.y - a1.y);
  const k = clampZoom(from.k * (d0 > 0 ? d1 / d0 : 1));
  const sx = ((a0.x + b0.x) / 2 - from.x) / from.k;
  const sy = ((a0.y + b0.y) / 2 - from.y) / from.k;
  return { k, x: (a1.x + b1.x) / 2 - sx * k, y: (a1.y + b1.y) / 2 - sy * k };
}

// Where each node's centre is on a stage of `width` x `height` px, from `places` ({area: [left, right, top, bottom]
// margins in px, nodes: {id: [x, y] in percent of the plot area between them]}, see dag_viewport.py): a Map.
export function stagePlaces(places, width, height) {
  const [left, right, top, bottom] = places.area;
  const w = width - left - right;
  const h = height - top - bottom;
  return new Map(Object.entries(places.nodes).map(([id, [x, y]]) => [id, [left + (x / 100) * w, top + (y / 100) * h]]));
}

// Where the nodes `at` (a Map of stage px) are in a `vw` x `vh` viewport under `view`: [id, x, y], the node nearest the
// middle of the viewport first.
export function anchors(view, at, vw, vh) {
  const shown = [...at].map(([id, [x, y]]) => [id, view.x + x * view.k, view.y + y * view.k]);
  const away = ([, x, y]) => Math.hypot(x - vw / 2, y - vh / 2);
  return shown.sort((a, b) => away(a) - away(b));
}

// The view kept for a new canvas drawn in the place of one the visitor zoomed or panned (see keep): zoom `k`, and the
// first of the old canvas's nodes `listed` (by anchors: nearest the middle of its view first) that the new one still
// has (`at`: a Map of stage px) where it was in the `vw` x `vh` viewport; when that was out of view (the nodes that
// were in view are gone), that node in the middle. Null when the new canvas has none of those nodes: it starts anew.
// Its other nodes are where its layout puts them, a node added beside the view out of view until the visitor pans
// there.
export function keptView(k, listed, at, vw, vh) {
  for (const [id, x, y] of listed) {
    const place = at.get(id);
    if (place) return revealView({ k, x: x - place[0] * k, y: y - place[1] * k }, x, y, vw, vh);
  }
  return null;
}

// The views visitors chose, by the name of the place of the canvas (see keep), while the page is open: {fit, ids} after
// a Fit (the node ids of the canvas fitted: a next one with none of them starts anew), else {k, anchors}.
const keptViews = new Map();

export default {
  props: {
    legibleZoom: { type: Number, default: null },
    namedZoom: { type: Number, default: null },
    keep: { type: String, default: null },
    places: { type: String, default: null },
  },
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
    this.chosen = null; // the visitor's view: "view" once zoomed or panned, "fit" after a Fit (see keep)
    this.pointers = new Map(); // the pointers pressed on the canvas: id -> {x, y} in the viewport
    this.onWheel = (e) => this.wheel(e);
    this.onDown = (e) => this.down(e);
    this.onMove = (e) => this.move(e);
    this.onUp = (e) => this.up(e);
    // The end of a drag or a pinch is no click on a node: ECharts measures the press in the moved chart, where it
    // did not move. A mouse's click is stopped; a finger's touchend too, because ECharts makes its own click of a
    // touch that ends within 300 ms, however far it went.
    this.onClick = (e) => this.moved && (e.stopPropagation(), e.preventDefault());
    this.onTouchEnd = (e) => this.moved && e.stopPropagation();
    this.onReveal = (e) => this.reveal(e.detail);
    this.$el.addEventListener("wheel", this.onWheel, { passive: false });
    this.$el.addEventListener("pointerdown", this.onDown, true);
    this.$el.addEventListener("click", this.onClick, true);
    this.$el.addEventListener("touchend", this.onTouchEnd, true);
    this.$el.addEventListener("fm-reveal", this.onReveal);
    this.resizes = new ResizeObserver(() => this.resized());
    this.resizes.observe(this.$el);
    requestAnimationFrame(() => this.start());
  },
  beforeUnmount() {
    this.remember();
    this.$el.removeEventListener("wheel", this.onWheel);
    this.$el.removeEventListener("pointerdown", this.onDown, true);
    this.$el.removeEventListener("click", this.onClick, true);
    this.$el.removeEventListener("touchend", this.onTouchEnd, true);
    this.$el.removeEventListener("fm-reveal", this.onReveal);
    this.resizes.disconnect();
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
      this.$el.dispatchEvent(new CustomEvent("fm-view"));
    },
    start() {
      const stage = this.stage();
      if (!stage) return;
      this.started = true;
      this.revealed = false;
      this.size = [this.$el.clientWidth, this.$el.clientHeight];
      this.stageSize = [stage.offsetWidth, stage.offsetHeight];
      this.resizes.observe(stage);
      this.view = this.keptView() ?? this.startingView();
      this.show();
    },
    // The start view (see startView) of this stage in this viewport, at their sizes now.
    startingView() {
      const stage = this.stage();
      const { clientWidth, clientHeight } = this.$el;
      const screen = window.innerWidth;
      return startView(
        stage.offsetWidth,
        stage.offsetHeight,
        clientWidth,
        clientHeight,
        this.legibleZoom,
        screen,
        this.namedZoom,
      );
    },
    // The viewport changed size (the page narrowed or widened beside the inspector, the window was resized): a
    // fitted graph is fitted again, a start view nobody moved starts again, and a view the visitor moved to (or a
    // card was revealed in) keeps its middle in the middle, so what was seen stays in view.
    resized() {
      const stage = this.stage();
      if (!this.started || !stage) return;
      const { clientWidth, clientHeight } = this.$el;
      const { offsetWidth, offsetHeight } = stage;
      const from = this.size;
      if (!clientWidth || !clientHeight) return; // hidden: its view waits for it to be shown again
      const stageFrom = this.stageSize;
      this.stageSize = [offsetWidth, offsetHeight];
      if (clientWidth === from[0] && clientHeight === from[1]) return; // (the stage alone: the chart drawn again)
      this.size = [clientWidth, clientHeight];
      if (this.chosen === "fit") this.view = fitView(offsetWidth, offsetHeight, clientWidth, clientHeight);
      else if (this.chosen || this.revealed)
        this.view = resizedView(this.view, from, this.size, stageFrom, this.stageSize);
      else this.view = this.startingView();
      this.show();
    },
    // The view the visitor chose in this canvas's place (see keep), for this canvas; null: its start view.
    keptView() {
      const kept = this.keep && this.places ? keptViews.get(this.keep) : null;
      if (!kept) return null;
      const stage = this.stage();
      const { clientWidth, clientHeight } = this.$el;
      const places = JSON.parse(this.places);
      if (kept.fit) {
        if (!Object.keys(places.nodes).some((id) => kept.ids.has(id))) return null; // another graph: it starts anew
        this.chosen = "fit";
        return fitView(stage.offsetWidth, stage.offsetHeight, clientWidth, clientHeight);
      }
      const at = stagePlaces(places, stage.offsetWidth, stage.offsetHeight);
      const view = keptView(kept.k, kept.anchors, at, clientWidth, clientHeight);
      if (view) this.chosen = "view";
      return view;
    },
    // Keep the view the visitor chose (see keep) for the canvas drawn next in this one's place; none: it starts anew.
    remember() {
      if (!this.keep || !this.places || !this.started) return; // (gone before it was shown: the kept view stays)
      const stage = this.stage();
      if (this.chosen === "fit")
        keptViews.set(this.keep, { fit: true, ids: new Set(Object.keys(JSON.parse(this.places).nodes)) });
      else if (this.chosen !== "view" || !stage) keptViews.delete(this.keep);
      else {
        const at = stagePlaces(JSON.parse(this.places), stage.offsetWidth, stage.offsetHeight);
        const { clientWidth, clientHeight } = this.$el;
        keptViews.set(this.keep, { k: this.view.k, anchors: anchors(this.view, at, clientWidth, clientHeight) });
      }
    },
    zoomBy(factor) {
      this.view = zoomAt(this.view, factor, this.$el.clientWidth / 2, this.$el.clientHeight / 2);
      this.chosen = "view";
      this.show();
    },
    fit() {
      const stage = this.stage();
      if (!stage) return;
      this.view = fitView(stage.offsetWidth, stage.offsetHeight, this.$el.clientWidth, this.$el.clientHeight);
      this.chosen = "fit";
      this.show();
    },
    // A card asks to be seen ("fm-reveal" from the chart, with its centre in screen px): a node selected in the node
    // list, the timeline or the other side of a comparison, whose card may be out of view.
    reveal(point) {
      const box = this.$el.getBoundingClientRect();
      const view = revealView(this.view, point.x - box.left, point.y - box.top, box.width, box.height);
      if (view === this.view) return;
      this.view = view;
      this.revealed = true;
      this.show();
    },
    wheel(e) {
      e.preventDefault();
      const box = this.$el.getBoundingClientRect();
      const step = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY; // lines or pixels
      this.view = zoomAt(this.view, Math.exp(-step * 0.0015), e.clientX - box.left, e.clientY - box.top);
      this.chosen = "view";
      this.show();
    },
    at(e) {
      const box = this.$el.getBoundingClientRect();
      return { x: e.clientX - box.left, y: e.clientY - box.top };
    },
    down(e) {
      if (this.pointers.size === 0) this.moved = false; // (a new press: the last one's gesture is over)
      if (e.button !== 0 || e.target.closest?.(".fm-zoom")) return; // the buttons are buttons
      this.pointers.set(e.pointerId, this.at(e));
      if (this.pointers.size === 2) {
        // a second finger: pinch from here (the press becomes a gesture, never a click on a node)
        const [a, b] = this.pointers.values();
        this.pinch = { a, b, from: { ...this.view } };
        this.moved = true;
        return;
      }
      if (this.pointers.size > 2) return;
      this.press = { x: e.clientX, y: e.clientY, from: { ...this.view }, dragging: false };
      window.addEventListener("pointermove", this.onMove);
      window.addEventListener("pointerup", this.onUp);
      window.addEventListener("pointercancel", this.onUp);
    },
    move(e) {
      if (!this.pointers.has(e.pointerId)) return;
      this.pointers.set(e.pointerId, this.at(e));
      const pinch = this.pinch;
      if (pinch) {
        const [a, b] = this.pointers.values();
        this.view = pinchView(pinch.from, pinch.a, pinch.b, a, b);
        this.chosen = "view";
        this.show();
        return;
      }
      const press = this.press;
      if (!press?.from) return; // (no press, or the finger left over from a pinch)
      const dx = e.clientX - press.x;
      const dy = e.clientY - press.y;
      if (!press.dragging && Math.hypot(dx, dy) < DRAG_PX) return;
      press.dragging = this.moved = true;
      this.$el.classList.add("fm-panning");
      this.view = { ...press.from, x: press.from.x + dx, y: press.from.y + dy };
      this.chosen = "view";
      this.show();
    },
    up(e) {
      if (e) this.pointers.delete(e.pointerId);
      else this.pointers.clear();
      if (this.pointers.size > 0) {
        // a finger of a pinch lifted: the gesture is over, and the one left does not pan from where it is
        if (this.pinch) this.pinch = null;
        if (this.press) this.press.from = null;
        return;
      }
      this.press = null;
      this.pinch = null;
      this.$el?.classList.remove("fm-panning");
      window.removeEventListener("pointermove", this.onMove);
      window.removeEventListener("pointerup", this.onUp);
      window.removeEventListener("pointercancel", this.onUp);
    },
  },
};
