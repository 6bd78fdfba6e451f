// fps, latency and dropped-frame counters of the stream.

const FPS_WINDOW_MS = 5000; // long enough for a slow server (a message every 2 s)
const LATENCY_SAMPLES = 30;

export class StreamStats {
  constructor() {
    this.sent = 0;
    this.received = 0;
    this.serverDropped = 0;
    this.clientSkipped = 0;
    this.receiveTimesMs = [];
    this.latenciesMs = [];
  }

  onSent() {
    this.sent += 1;
  }

  /** A frame was not sent: the window of frames in flight was full. */
  onSkipped() {
    this.clientSkipped += 1;
  }

  onFrame(message, latencyMs, nowMs) {
    this.received += 1;
    this.serverDropped += message.dropped_frames || 0;
    this.receiveTimesMs.push(nowMs);
    while (this.receiveTimesMs.length && this.receiveTimesMs[0] < nowMs - FPS_WINDOW_MS) {
      this.receiveTimesMs.shift();
    }
    if (latencyMs !== null) {
      this.latenciesMs.push(latencyMs);
      if (this.latenciesMs.length > LATENCY_SAMPLES) this.latenciesMs.shift();
    }
  }

  /** Frame messages per second over the last five seconds. */
  fps(nowMs) {
    const recent = this.receiveTimesMs.filter((t) => t >= nowMs - FPS_WINDOW_MS);
    if (recent.length < 2) return 0;
    const spanMs = Math.max(nowMs - recent[0], 1);
    return ((recent.length - 1) * 1000) / spanMs;
  }

  /** Median latency (frame sent -> its message received) of the last samples, or null. */
  latencyMs() {
    if (!this.latenciesMs.length) return null;
    const sorted = [...this.latenciesMs].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  get dropped() {
    return this.serverDropped + this.clientSkipped;
  }
}
