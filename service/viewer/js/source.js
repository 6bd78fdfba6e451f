// The video source: a file or the webcam in a <video> element; one "frame" event per new
// video frame (from requestVideoFrameCallback), pause and single steps.

const DEFAULT_FRAME_DURATION_S = 1 / 30;

/**
 * Events: "frame" ({timestampS, isStep}), "opened" ({kind, name}), "pausechange", "ended".
 * Capture times increase within the source's life: a file's media time (plus an offset
 * once it restarts or is seeked back), the webcam's performance clock.
 */
export class VideoSource extends EventTarget {
  constructor(video) {
    super();
    this.video = video;
    this.kind = null;
    this.name = "";
    this.mediaStream = null;
    this.objectUrl = null;
    this.isPaused = false;
    this.frameDurationS = null;
    this.lastMediaTime = null;
    this.lastPresented = null;
    this.lastTimestampS = -Infinity;
    this.timeOffsetS = 0;
    this.isStepPending = false;
    this.isHeld = false;
    this.watchGeneration = 0;
    video.addEventListener("seeked", () => this.onSeeked());
    video.addEventListener("ended", () => {
      this.isPaused = true;
      this.emit("ended", null);
      this.emit("pausechange", null);
    });
  }

  get isOpen() {
    return this.kind !== null;
  }

  async openFile(file) {
    this.release();
    this.kind = "file";
    this.name = file.name;
    this.objectUrl = URL.createObjectURL(file);
    this.video.srcObject = null;
    this.video.src = this.objectUrl;
    await this.startPlaying();
  }

  async openWebcam() {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    this.release();
    this.kind = "webcam";
    this.name = stream.getVideoTracks()[0]?.label || "webcam";
    this.mediaStream = stream;
    this.video.removeAttribute("src");
    this.video.srcObject = stream;
    await this.startPlaying();
  }

  release() {
    this.isHeld = false;
    if (this.mediaStream) this.mediaStream.getTracks().forEach((track) => track.stop());
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.mediaStream = null;
    this.objectUrl = null;
    this.frameDurationS = null;
    this.lastMediaTime = null;
    this.lastPresented = null;
  }

  async startPlaying() {
    this.isPaused = false;
    this.watch();
    await this.video.play();
    this.emit("opened", { kind: this.kind, name: this.name });
    this.emit("pausechange", null);
  }

  pause() {
    if (!this.isOpen || this.isPaused) return;
    this.isPaused = true;
    this.isHeld = false;
    if (this.kind === "file") this.video.pause();
    this.emit("pausechange", null);
  }

  async resume() {
    if (!this.isOpen || !this.isPaused) return;
    this.isPaused = false;
    this.emit("pausechange", null);
    if (this.kind === "file") {
      if (this.video.ended) this.video.currentTime = 0;
      await this.video.play();
    }
  }

  /** Every-frame mode: stop a playing file until the server caught up (``unhold``). */
  hold() {
    if (this.kind !== "file" || this.isPaused || this.isHeld || this.video.ended) return;
    this.isHeld = true;
    this.video.pause();
  }

  unhold() {
    if (!this.isHeld) return;
    this.isHeld = false;
    if (!this.isPaused) this.video.play();
  }

  /** While paused: the next frame of a file (one frame later), the webcam's current one. */
  step() {
    if (!this.isOpen || !this.isPaused) return;
    if (this.kind === "webcam") {
      this.emitFrame(performance.now() / 1000, true);
      return;
    }
    const duration = this.frameDurationS || DEFAULT_FRAME_DURATION_S;
    const target = this.video.currentTime + duration;
    if (target > this.video.duration) return;
    this.isStepPending = true;
    this.video.currentTime = target;
  }

  onSeeked() {
    if (!this.isStepPending) return;
    this.isStepPending = false;
    this.emitFrame(this.video.currentTime, true);
  }

  /** One requestVideoFrameCallback chain per opened source. */
  watch() {
    this.watchGeneration += 1;
    const generation = this.watchGeneration;
    const onFrame = (_now, metadata) => {
      if (generation !== this.watchGeneration) return;
      this.video.requestVideoFrameCallback(onFrame);
      if (this.isPaused) return;
      this.learnFrameDuration(metadata);
      const timestampS = this.kind === "file" ? metadata.mediaTime : performance.now() / 1000;
      this.emitFrame(timestampS, false);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  learnFrameDuration(metadata) {
    const { mediaTime, presentedFrames } = metadata;
    if (this.lastMediaTime !== null && presentedFrames === this.lastPresented + 1) {
      const delta = mediaTime - this.lastMediaTime;
      if (delta > 0.001 && delta < 1 && (this.frameDurationS === null || delta < this.frameDurationS)) {
        this.frameDurationS = delta;
      }
    }
    this.lastMediaTime = mediaTime;
    this.lastPresented = presentedFrames;
  }

  emitFrame(rawTimestampS, isStep) {
    let timestampS = rawTimestampS + this.timeOffsetS;
    if (timestampS <= this.lastTimestampS) {
      // Restarted or seeked back: keep capture times increasing (the server requires it).
      this.timeOffsetS += this.lastTimestampS - timestampS + (this.frameDurationS || DEFAULT_FRAME_DURATION_S);
      timestampS = rawTimestampS + this.timeOffsetS;
    }
    this.lastTimestampS = timestampS;
    this.emit("frame", { timestampS, isStep });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
