// The header's connection indicator (see connection_indicator.py): painted here, on the socket's own events and
// every half second, because the server cannot report its own absence. Offline only once it has been online: a
// socket still making its first connection is connecting.

// A tab too busy to run for a while (a stalled browser, a laptop that slept) may hold a socket the server has given
// up on meanwhile; the browser notices only at its own ping timeout, up to 12 s later, and the longer it takes, the
// likelier the server has let the page go (20 s after), so that the page reloads. Reconnecting as soon as the tab
// runs again brings the same page back with the messages it missed (NiceGUI resends them). `stallWatch(now)` gives
// a tick, called every half second, that says whether the tab did not run for more than `stalledMs` since the last
// tick.
export const STALLED_MS = 4000;
export const SOCKET_LOOKUP_MS = 25;
const SOCKET_LOOKUPS = 10_000 / SOCKET_LOOKUP_MS;
export function stallWatch(now, stalledMs = STALLED_MS) {
  let last = now();
  return () => {
    const at = now();
    const stalled = at - last > stalledMs;
    last = at;
    return stalled;
  };
}

export default {
  template: `
    <div :data-state="state">
      <span class="fm-conn-dot"></span>
      <span class="fm-conn-online text-xs">Live</span>
      <span class="fm-conn-offline text-xs">Offline</span>
      <span class="fm-conn-connecting text-xs">Connecting</span>
      <slot></slot>
    </div>`,
  data() {
    return { state: "connecting" };
  },
  mounted() {
    this.paint = () => {
      const socket = window.socket;
      if (socket && socket !== this.socket) {
        this.socket = socket; // repaint at once on the socket's own events
        socket.on("connect", this.paint);
        socket.on("disconnect", this.paint);
      }
      if (socket && socket.connected) this.wasOnline = true;
      this.state = socket && socket.connected ? "online" : this.wasOnline ? "offline" : "connecting";
    };
    const stalled = stallWatch(() => Date.now());
    this.timer = setInterval(() => {
      // (a hidden tab's timers are slowed down by the browser on purpose: only a visible one counts as stalled)
      if (stalled() && document.visibilityState === "visible" && window.socket?.connected) {
        window.socket.io.engine.close(); // socket.io reconnects within a second or so
      }
      this.paint();
    }, 500);
    document.addEventListener("visibilitychange", this.paint);
    this.paint();
    // NiceGUI makes the page's socket after its components mount: look for it often until it is there (for 10 s at
    // the most; the half-second repaint goes on), so that its own "connect" paints the pill at once (a page that
    // loaded live said "Connecting" for up to half a second)
    let lookups = SOCKET_LOOKUPS;
    this.early = setInterval(() => {
      this.paint();
      if (this.socket || --lookups <= 0) clearInterval(this.early);
    }, SOCKET_LOOKUP_MS);
  },
  beforeUnmount() {
    clearInterval(this.timer);
    clearInterval(this.early);
    document.removeEventListener("visibilitychange", this.paint);
    this.socket?.off("connect", this.paint);
    this.socket?.off("disconnect", this.paint);
  },
};
