// The header's connection indicator (see connection_indicator.py): painted here, on the socket's own events and
// every half second, because the server cannot report its own absence. Offline only once it has been online: a
// socket still making its first connection is connecting.
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
    this.timer = setInterval(this.paint, 500);
    document.addEventListener("visibilitychange", this.paint);
    this.paint();
  },
  beforeUnmount() {
    clearInterval(this.timer);
    document.removeEventListener("visibilitychange", this.paint);
    this.socket?.off("connect", this.paint);
    this.socket?.off("disconnect", this.paint);
  },
};
