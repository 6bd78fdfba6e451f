// The video source: a file or the webcam in a <video> element; one "frame" event per video
// frame to send, pause and single steps.
//
// Real time (default): the video plays and every frame it presents (requestVideoFrameCallback)
// is offered; the page skips those that come while its window of frames in flight is full.
// Every frame (files only): once the frame duration is known (two consecutive frames seen
// playing), the video stops playing and the page pulls frames one by one (``pump``), each by
// a seek to the next frame's time, so no frame is skipped however slow the server is.

const DEFAULT_FRAME_DURATION_S = 1 / 30;
const SEEK_INTO_FRAME = 0.25; // seek a quarter frame past a frame's start: rounding stays inside it

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
    this.hasEnded = false;
    this.isEveryFrame = false;
    this.isStepping = false; // every-frame mode engaged: frames come from seeks
    this.nextFrameTimeS = 0;
    this.seekPurpose = null; // "pump" | "step" while a seek of ours is under way
    this.frameDurationS = null;
    this.durationSamples = [];
    this.lastMediaTime = null;
    this.lastPresented = null;
    this.lastTimestampS = -Infinity;
    this.timeOffsetS = 0;
    this.watchGeneration = 0;
    video.addEventListener("seeked", () => this.onSeeked());
    video.addEventListener("ended", () => this.onEnded());
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
    if (this.mediaStream) this.mediaStream.getTracks().forEach((track) => track.stop());
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.mediaStream = null;
    this.objectUrl = null;
    this.isStepping = false;
    this.seekPurpose = null;
    this.frameDurationS = null;
    this.durationSamples = [];
    this.lastMediaTime = null;
    this.lastPresented = null;
  }

  async startPlaying() {
    this.isPaused = false;
    this.hasEnded = false;
    this.watch();
    await this.video.play();
    this.emit("opened", { kind: this.kind, name: this.name });
    this.emit("pausechange", null);
  }

  /** Every-frame mode on or off (files; the webcam always runs in real time). */
  setEveryFrame(isEveryFrame) {
    this.isEveryFrame = isEveryFrame;
    if (!isEveryFrame && this.isStepping) {
      this.isStepping = false;
      if (!this.isPaused) this.video.play();
    }
  }

  pause() {
    if (!this.isOpen || this.isPaused) return;
    this.isPaused = true;
    if (this.kind === "file") this.video.pause();
    this.emit("pausechange", null);
  }

  async resume() {
    if (!this.isOpen || !this.isPaused) return;
    this.isPaused = false;
    this.hasEnded = false;
    if (this.kind === "file" && this.isStepping) {
      if (this.nextFrameTimeS >= this.video.duration) this.nextFrameTimeS = 0; // from the start
    } else if (this.kind === "file") {
      if (this.video.ended) this.video.currentTime = 0;
      await this.video.play();
    }
    this.emit("pausechange", null);
  }

  /** While paused: the next frame of a file, the webcam's current one. */
  step() {
    if (!this.isOpen || !this.isPaused || this.seekPurpose) return;
    if (this.kind === "webcam") {
      this.emitFrame(performance.now() / 1000, true);
      return;
    }
    const duration = this.frameDurationS || DEFAULT_FRAME_DURATION_S;
    const frameTimeS = this.isStepping ? this.nextFrameTimeS : this.video.currentTime + duration;
    this.seekTo(frameTimeS, "step");
  }

  /** Every-frame mode: fetch the next frame (the page calls this when it can send one). */
  pump() {
    if (!this.isStepping || this.isPaused || this.seekPurpose) return;
    this.seekTo(this.nextFrameTimeS, "pump");
  }

  seekTo(frameTimeS, purpose) {
    const duration = this.frameDurationS || DEFAULT_FRAME_DURATION_S;
    const targetS = frameTimeS + (this.isStepping ? SEEK_INTO_FRAME * duration : 0);
    if (targetS >= this.video.duration) {
      if (purpose === "pump") this.onEnded();
      return;
    }
    this.seekPurpose = purpose;
    this.seekFrameTimeS = frameTimeS;
    this.video.currentTime = targetS;
  }

  onSeeked() {
    const purpose = this.seekPurpose;
    if (!purpose) return;
    this.seekPurpose = null;
    if (this.isStepping) this.nextFrameTimeS = this.seekFrameTimeS + this.frameDurationS;
    const timestampS = this.isStepping ? this.seekFrameTimeS : this.video.currentTime;
    this.emitFrame(timestampS, purpose === "step");
  }

  onEnded() {
    this.isPaused = true;
    this.hasEnded = true;
    this.emit("ended", null);
    this.emit("pausechange", null);
  }

  /** One requestVideoFrameCallback chain per opened source. */
  watch() {
    this.watchGeneration += 1;
    const generation = this.watchGeneration;
    const onFrame = (_now, metadata) => {
      if (generation !== this.watchGeneration) return;
      this.video.requestVideoFrameCallback(onFrame);
      if (this.isPaused || this.isStepping) return;
      this.learnFrameDuration(metadata);
      if (this.kind === "file" && this.isEveryFrame && this.frameDurationS !== null) {
        // from here on the page pulls the frames (pump)
        this.isStepping = true;
        this.video.pause();
        this.nextFrameTimeS = metadata.mediaTime + this.frameDurationS;
      }
      const timestampS = this.kind === "file" ? metadata.mediaTime : performance.now() / 1000;
      this.emitFrame(timestampS, false);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  /** The shortest media-time step between consecutive presented frames; known (not null)
   * after three such steps, since a busy page may miss a frame now and then. */
  learnFrameDuration(metadata) {
    const { mediaTime, presentedFrames } = metadata;
    if (this.lastMediaTime !== null && presentedFrames === this.lastPresented + 1) {
      const delta = mediaTime - this.lastMediaTime;
      if (delta > 0.001 && delta < 1) {
        this.durationSamples.push(delta);
        if (this.durationSamples.length >= 3) this.frameDurationS = Math.min(...this.durationSamples);
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
