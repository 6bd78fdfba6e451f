// posecast viewer: a video file or the webcam streamed to /v1/stream, the tracked people
// drawn over the video and in an orbitable 3D scene (docs/viewer.md).
// ``window.posecastViewer.state()`` is what the end-to-end tests read.

import { StreamConnection } from "./connection.js";
import { Overlay } from "./overlay.js";
import { PoseScene } from "./scene3d.js";
import { VideoSource } from "./source.js";
import { StreamStats } from "./stats.js";

const MAX_IN_FLIGHT = 2; // frames sent and not yet answered; newer video frames are skipped
const IN_FLIGHT_TIMEOUT_MS = 20000;
const JPEG_QUALITY = 0.85;
const STREAM_NAME = "viewer";
const MAX_ERRORS_KEPT = 50;
const CLOSE_TEXTS = {
  1000: "closed",
  1001: "the server is going away",
  1005: "closed without a status",
  1006: "the server cannot be reached",
  1011: "server error",
  1013: "the server is not ready yet",
};
const ERROR_HINTS = {
  unauthorized: " Enter the server's API key under Settings, then Apply.",
  invalid_input: " Change the settings, then Apply.",
  protocol_error: " Change the settings, then Apply.",
  too_many_streams: " The server has its maximum of streams: Apply to try again.",
};

const $ = (id) => document.getElementById(id);

class Viewer {
  constructor() {
    this.video = $("video");
    this.connection = new StreamConnection();
    this.source = new VideoSource(this.video);
    this.overlay = new Overlay($("overlay"));
    this.scene3d = new PoseScene($("scene"), $("scene-label"));
    this.stats = new StreamStats();
    this.captureCanvas = document.createElement("canvas");
    this.skeletons = null; // name -> {joints, edges, ...} from GET /v1/skeletons
    this.intrinsics = null; // the parsed intrinsics file, sent as the config's "intrinsics"
    this.streamCamera = { intrinsics: null, fovDeg: 55 };
    this.inFlight = new Map(); // client frame id -> capture time (ms)
    this.nextFrameId = 0;
    this.sendQueue = Promise.resolve();
    this.lastMessage = null;
    this.errors = [];
    this.errorText = "";
    this.lastClose = null;
    this.readInitialSettings();
    this.bindControls();
    this.bindStream();
    this.loadSkeletons();
    setInterval(() => {
      this.expireInFlight();
      this.pump();
      this.renderStats();
    }, 500);
  }

  // ---- settings ----------------------------------------------------------------------------

  readInitialSettings() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    $("server-url").value = `${scheme}//${location.host}/v1/stream`;
    // The key may come in the page's fragment (#token=KEY): a fragment is never sent to a
    // server, so it stays out of access logs.
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("token")) $("api-key").value = fragment.get("token");
  }

  get apiKey() {
    return $("api-key").value.trim();
  }

  streamUrl() {
    const url = new URL($("server-url").value.trim());
    if (this.apiKey) url.searchParams.set("token", this.apiKey);
    return url.toString();
  }

  httpUrl(path) {
    const url = new URL($("server-url").value.trim());
    url.protocol = url.protocol === "wss:" ? "https:" : "http:";
    url.pathname = path;
    url.search = "";
    return url.toString();
  }

  buildConfig() {
    const config = { type: "config", stream: STREAM_NAME, output: "json" };
    const skeleton = $("skeleton").value;
    if (skeleton) config.skeleton = skeleton;
    const detectEvery = $("detect-every").value.trim();
    if (detectEvery !== "") config.detect_every = Number(detectEvery);
    if (this.intrinsics) {
      config.intrinsics = this.intrinsics;
    } else if ($("fov-deg").value.trim() !== "") {
      config.fov_deg = Number($("fov-deg").value);
    }
    if ($("include-predicted").checked) config.include_predicted = true;
    return config;
  }

  async readIntrinsicsFile(file) {
    try {
      this.intrinsics = JSON.parse(await file.text());
      $("intrinsics-name").textContent = `intrinsics: ${file.name}`;
      $("fov-deg").disabled = true;
    } catch (error) {
      this.intrinsics = null;
      this.showError(`The intrinsics file ${file.name} is not JSON: ${error.message}`);
    }
  }

  clearIntrinsics() {
    this.intrinsics = null;
    $("intrinsics-file").value = "";
    $("intrinsics-name").textContent = "";
    $("fov-deg").disabled = false;
  }

  /** The joint sets and their edges; needs the key when the server has keys. */
  async loadSkeletons() {
    let url;
    try {
      url = this.httpUrl("/v1/skeletons");
    } catch (error) {
      this.showError(`Invalid server address: ${error.message}`);
      return;
    }
    const headers = this.apiKey ? { Authorization: `Bearer ${this.apiKey}` } : {};
    let response;
    try {
      response = await fetch(url, { headers });
    } catch (error) {
      this.showError(`The server at ${url} cannot be reached (${error.message}).`);
      return;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const code = body.error?.code || response.status;
      const message = body.error?.message || response.statusText;
      this.showError(`GET /v1/skeletons: ${code}: ${message}.${ERROR_HINTS[code] || ""}`);
      return;
    }
    this.skeletons = (await response.json()).skeletons;
    const select = $("skeleton");
    const chosen = select.value;
    select.replaceChildren(new Option("server default", ""));
    for (const [name, info] of Object.entries(this.skeletons)) {
      select.append(new Option(`${name} (${info.num_joints} joints)`, name));
    }
    select.value = chosen;
  }

  edgesOf(skeleton) {
    return this.skeletons?.[skeleton]?.edges ?? null;
  }

  // ---- controls ----------------------------------------------------------------------------

  bindControls() {
    $("file-input").addEventListener("change", (event) => {
      const [file] = event.target.files;
      if (file) this.openSource(() => this.source.openFile(file));
    });
    $("webcam-button").addEventListener("click", () => this.openSource(() => this.source.openWebcam()));
    $("play-button").addEventListener("click", () =>
      this.source.isPaused ? this.source.resume() : this.source.pause(),
    );
    $("step-button").addEventListener("click", () => this.source.step());
    $("settings-button").addEventListener("click", () => {
      const form = $("settings");
      form.hidden = !form.hidden;
      $("settings-button").setAttribute("aria-expanded", String(!form.hidden));
    });
    $("settings").addEventListener("submit", (event) => {
      event.preventDefault();
      this.applySettings();
    });
    $("intrinsics-file").addEventListener("change", (event) => {
      const [file] = event.target.files;
      if (file) this.readIntrinsicsFile(file);
    });
    $("intrinsics-clear").addEventListener("click", () => this.clearIntrinsics());
    $("reset-view").addEventListener("click", () => {
      this.scene3d.resetView();
      if (this.lastMessage) this.redraw3d(this.lastMessage);
    });
    this.source.addEventListener("opened", () => {
      $("video-hint").hidden = true;
      this.startStream();
    });
    this.source.addEventListener("pausechange", () => {
      this.renderButtons();
      this.pump();
    });
    $("every-frame").addEventListener("change", (event) => this.source.setEveryFrame(event.target.checked));
    this.source.setEveryFrame($("every-frame").checked);
    this.source.addEventListener("frame", (event) => this.onVideoFrame(event.detail));
  }

  async openSource(open) {
    try {
      await open();
    } catch (error) {
      const hint =
        error.name === "NotSupportedError" && this.source.kind === "file"
          ? " This browser cannot decode the file: use H.264, VP8, VP9 or AV1 video" +
            " (e.g. ffmpeg -i INPUT -c:v libvpx-vp9 OUTPUT.webm)."
          : "";
      this.showError(`Cannot open the video source: ${error.message}.${hint}`);
    }
  }

  applySettings() {
    this.loadSkeletons();
    if (this.source.isOpen) this.startStream();
  }

  renderButtons() {
    const isOpen = this.source.isOpen;
    $("play-button").disabled = !isOpen;
    $("play-button").textContent = this.source.isPaused ? "Play" : "Pause";
    $("step-button").disabled = !isOpen || !this.source.isPaused;
  }

  // ---- the stream --------------------------------------------------------------------------

  startStream() {
    let url;
    try {
      url = this.streamUrl();
    } catch (error) {
      this.showError(`Invalid server address: ${error.message}`);
      return;
    }
    const config = this.buildConfig();
    this.streamCamera = { intrinsics: config.intrinsics || null, fovDeg: config.fov_deg || 55 };
    this.connection.start(url, config);
  }

  bindStream() {
    const connection = this.connection;
    connection.addEventListener("state", () => this.renderConnection());
    connection.addEventListener("ready", () => {
      this.clearError();
      this.inFlight.clear();
      this.overlay.clear();
      this.scene3d.reset();
      if (!this.skeletons) this.loadSkeletons();
      this.pump();
    });
    connection.addEventListener("frame", (event) => this.onFrame(event.detail));
    connection.addEventListener("servererror", (event) => this.onServerError(event.detail));
    connection.addEventListener("close", (event) => this.onClose(event.detail));
  }

  onVideoFrame({ timestampS, isStep }) {
    if (!this.connection.isReady) return;
    this.expireInFlight();
    if (!isStep && this.inFlight.size >= MAX_IN_FLIGHT) {
      this.stats.onSkipped();
      return;
    }
    this.sendFrame(timestampS);
  }

  /** Every-frame mode: ask the source for the next frame while the window has room. */
  pump() {
    if (this.connection.isReady && this.inFlight.size < MAX_IN_FLIGHT) this.source.pump();
  }

  /** Forget frames unanswered for too long (the video must not wait for them forever). */
  expireInFlight() {
    const nowMs = performance.now();
    for (const [id, sentMs] of this.inFlight) if (nowMs - sentMs > IN_FLIGHT_TIMEOUT_MS) this.inFlight.delete(id);
  }

  /** Encode the video's current frame and send it; sends keep the frames' order (JPEG
   * encodings may finish out of order, and the server wants increasing capture times). */
  sendFrame(timestampS) {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height) return;
    const canvas = this.captureCanvas;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    canvas.getContext("2d").drawImage(this.video, 0, 0, width, height);
    const frameId = this.nextFrameId;
    this.nextFrameId += 1;
    const generation = this.connection.generation;
    this.inFlight.set(frameId, performance.now());
    const encoded = new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
    this.sendQueue = this.sendQueue.then(async () => {
      const jpeg = await encoded;
      const isSent = jpeg && generation === this.connection.generation && this.connection.sendFrame(jpeg, frameId, timestampS);
      if (isSent) {
        this.stats.onSent();
        this.pump();
      } else {
        this.inFlight.delete(frameId);
      }
    });
  }

  onFrame(message) {
    const nowMs = performance.now();
    const id = message.client_frame_id;
    const latencyMs = this.inFlight.has(id) ? nowMs - this.inFlight.get(id) : null;
    // Messages come in order: earlier frames without a message were dropped by the server.
    for (const key of [...this.inFlight.keys()]) if (id !== null && key <= id) this.inFlight.delete(key);
    this.pump();
    this.stats.onFrame(message, latencyMs, nowMs);
    this.lastMessage = message;
    this.overlay.draw(message, this.edgesOf(message.skeleton));
    this.redraw3d(message);
  }

  redraw3d(message) {
    this.scene3d.update(message, this.edgesOf(message.skeleton), this.streamCamera);
  }

  onServerError(error) {
    this.errors.push({ code: error.code, message: error.message, isFatal: error.is_fatal, clientFrameId: error.client_frame_id });
    if (this.errors.length > MAX_ERRORS_KEPT) this.errors.shift();
    if (error.client_frame_id !== null && error.client_frame_id !== undefined) {
      this.inFlight.delete(error.client_frame_id);
      this.pump();
    }
    if (!error.is_fatal) {
      const frame = error.client_frame_id ?? "?";
      this.showError(`Server error on frame ${frame}: ${error.code}: ${error.message}`);
    }
  }

  onClose({ code, reason, error, willRetry, retryMs }) {
    this.lastClose = { code, reason, errorCode: error?.code ?? null };
    this.inFlight.clear();
    const what = error ? `${error.code}: ${error.message}` : reason || CLOSE_TEXTS[code] || "connection lost";
    const next = willRetry ? ` Reconnecting in ${(retryMs / 1000).toFixed(1)} s…` : ERROR_HINTS[error?.code] || "";
    this.showError(`Stream closed (${code}): ${what}.${next}`);
  }

  // ---- display -----------------------------------------------------------------------------

  showError(text) {
    this.errorText = text;
    $("error").textContent = text;
    $("error").hidden = false;
  }

  clearError() {
    this.errorText = "";
    $("error").hidden = true;
  }

  renderConnection() {
    const state = this.connection.state;
    const texts = {
      idle: "not connected",
      connecting: "connecting…",
      ready: `streaming ${this.source.name}`,
      reconnecting: "reconnecting…",
      failed: "disconnected",
    };
    const element = $("connection");
    element.className = `connection ${state}`;
    element.textContent = texts[state] || state;
  }

  renderStats() {
    const nowMs = performance.now();
    const latencyMs = this.stats.latencyMs();
    $("stat-fps").textContent = this.stats.fps(nowMs).toFixed(1);
    $("stat-latency").textContent = latencyMs === null ? "-" : `${Math.round(latencyMs)} ms`;
    $("stat-dropped").textContent = String(this.stats.dropped);
    $("stat-dropped").title = `${this.stats.serverDropped} by the server, ${this.stats.clientSkipped} not sent (${MAX_IN_FLIGHT} frames in flight)`;
    $("stat-sent").textContent = String(this.stats.sent);
    $("stat-received").textContent = String(this.stats.received);
    const message = this.lastMessage;
    $("stat-people").textContent = message ? String(message.persons.length) : "0";
    const scene = message?.scene;
    $("stat-calibration").textContent = scene ? scene.state : "-";
    $("stat-calibration-detail").textContent = scene?.detail || "";
  }

  /** A snapshot of what the page shows, for the end-to-end tests and for debugging. */
  state() {
    const nowMs = performance.now();
    const message = this.lastMessage;
    return {
      connection: this.connection.state,
      streamsOpened: this.connection.streamsOpened,
      config: this.connection.config,
      source: {
        kind: this.source.kind,
        name: this.source.name,
        isPaused: this.source.isPaused,
        isStepping: this.source.isStepping,
        hasEnded: this.source.hasEnded,
        currentTimeS: this.video.currentTime,
      },
      stats: {
        sent: this.stats.sent,
        received: this.stats.received,
        serverDropped: this.stats.serverDropped,
        clientSkipped: this.stats.clientSkipped,
        dropped: this.stats.dropped,
        fps: this.stats.fps(nowMs),
        latencyMs: this.stats.latencyMs(),
      },
      inFlight: this.inFlight.size,
      lastFrame: message && {
        frame: message.frame,
        clientFrameId: message.client_frame_id,
        timestamp: message.timestamp,
        width: message.width,
        height: message.height,
        skeleton: message.skeleton,
        persons: message.persons.length,
        trackIds: message.persons.map((person) => person.track_id),
        sceneState: message.scene?.state ?? null,
      },
      overlay: this.overlay.drawn,
      scene3d: this.scene3d.snapshot(),
      skeletons: this.skeletons ? Object.keys(this.skeletons) : [],
      errors: [...this.errors],
      errorText: this.errorText,
      lastClose: this.lastClose,
    };
  }
}

window.posecastViewer = new Viewer();
