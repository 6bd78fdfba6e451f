// The /v1/stream client (docs/service.md): the config first, frames as binary messages with a
// PCF1 header, server messages as JSON; reconnects after the server went away.

const FRAME_MAGIC = new Uint8Array([0x50, 0x43, 0x46, 0x31]); // "PCF1"
const INITIAL_RETRY_MS = 500;
const MAX_RETRY_MS = 5000;
// Close codes after which a new stream may work: going away (server restart), abnormal
// closure (no server, network), internal error, service restart, try again later (models
// loading). The others (1003, 1008 auth/config/limits, 1009) need the user to change something.
const RETRYABLE_CLOSE_CODES = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);

/**
 * One stream at a time. Events: "state" (detail: state name), "ready", "frame", "servererror"
 * (detail: the server's error message), "close" ({code, reason, error, willRetry, retryMs}).
 */
export class StreamConnection extends EventTarget {
  constructor() {
    super();
    this.socket = null;
    this.state = "idle";
    this.url = null;
    this.config = null;
    this.isWanted = false;
    this.retryMs = INITIAL_RETRY_MS;
    this.retryTimer = null;
    this.streamsOpened = 0;
    this.generation = 0;
    this.lastFatal = null;
  }

  get isReady() {
    return this.state === "ready";
  }

  /** Open a stream to ``url`` (token included) with ``config``; replaces the current one. */
  start(url, config) {
    this.stop();
    this.url = url;
    this.config = config;
    this.isWanted = true;
    this.retryMs = INITIAL_RETRY_MS;
    this.open();
  }

  /** Close the stream (no reconnection). */
  stop() {
    this.isWanted = false;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "viewer closed the stream");
    this.setState("idle");
  }

  open() {
    this.generation += 1;
    this.lastFatal = null;
    this.setState("connecting");
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.addEventListener("open", () => socket.send(JSON.stringify(this.config)));
    socket.addEventListener("message", (event) => this.onMessage(socket, event));
    socket.addEventListener("close", (event) => this.onClose(socket, event));
  }

  onMessage(socket, event) {
    if (socket !== this.socket) return;
    let message;
    try {
      message = JSON.parse(typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data));
    } catch (error) {
      this.emit("servererror", { type: "error", code: "viewer", message: `unreadable server message: ${error}`, is_fatal: false });
      return;
    }
    if (message.type === "ready") {
      this.streamsOpened += 1;
      this.retryMs = INITIAL_RETRY_MS;
      this.setState("ready");
      this.emit("ready", message);
    } else if (message.type === "frame") {
      this.emit("frame", message);
    } else if (message.type === "error") {
      if (message.is_fatal) this.lastFatal = message;
      this.emit("servererror", message);
    }
  }

  onClose(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    const willRetry = this.isWanted && RETRYABLE_CLOSE_CODES.has(event.code);
    this.emit("close", {
      code: event.code,
      reason: event.reason,
      error: this.lastFatal,
      willRetry,
      retryMs: this.retryMs,
    });
    if (!willRetry) {
      this.isWanted = false;
      this.setState(event.code === 1000 ? "idle" : "failed");
      return;
    }
    this.setState("reconnecting");
    this.retryTimer = setTimeout(() => this.open(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  /** Send one JPEG with its frame id and capture time (seconds, increasing). */
  sendFrame(jpeg, frameId, timestampS) {
    if (!this.isReady) return false;
    const header = new TextEncoder().encode(JSON.stringify({ frame_id: frameId, timestamp_s: timestampS }));
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, header.length, true);
    this.socket.send(new Blob([FRAME_MAGIC, length, header, jpeg]));
    return true;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.emit("state", state);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
