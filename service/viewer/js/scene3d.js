// The orbitable 3D view: ground grid, camera frustum, one skeleton per tracked person,
// per-track trails on the ground. Rendered on demand (after a frame message or a drag).

import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { LineMaterial } from "three/addons/lines/LineMaterial.js";
import { LineSegments2 } from "three/addons/lines/LineSegments2.js";
import { LineSegmentsGeometry } from "three/addons/lines/LineSegmentsGeometry.js";

import { trackRgb } from "./colors.js";
import {
  applyRigid,
  cameraToView,
  focalPx,
  frustumCornersCamera,
  rigidFromPairs,
  rigidFromScene,
} from "./geometry.js";

const MIN_CONFIDENCE = 0.3;
const BONE_WIDTH_PX = 3;
const TRAIL_WIDTH_PX = 2;
const TRAIL_MAX_POINTS = 400;
const TRAIL_MIN_STEP_M = 0.03;
const TRAIL_KEEP_S = 20;
const GRID_SIZE_M = 60;
const DEFAULT_FLOOR_BELOW_CAMERA_M = 1.5;
const FLOOR_SMOOTHING = 0.1;

export class PoseScene {
  constructor(container, label) {
    this.container = container;
    this.label = label;
    this.tracks = new Map(); // track id -> {skeleton: LineSegments, joints: Points}
    this.trails = new Map(); // track id -> {line, points: [[x, y, z]], lastSeenS}
    this.frameMode = null; // "world" | "camera"
    this.worldFromCamera = null;
    this.floorZ = -DEFAULT_FLOOR_BELOW_CAMERA_M;
    this.isViewSet = false;
    this.isRenderPending = false;
    this.lineMaterials = new Set(); // wide-line materials: they need the canvas size
    this.frustumDepthM = 1;
    this.hasWebGL = this.createRenderer();
    if (!this.hasWebGL) return;
    this.createScene();
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
  }

  createRenderer() {
    const probe = document.createElement("canvas");
    if (!probe.getContext("webgl2") && !probe.getContext("webgl")) {
      this.container.textContent = "WebGL is not available in this browser: no 3D view.";
      return false;
    }
    this.renderer = new THREE.WebGLRenderer({ antialias: true });
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setClearColor(0x0d0f13);
    this.container.appendChild(this.renderer.domElement);
    return true;
  }

  createScene() {
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.05, 500);
    this.camera.up.set(0, 0, 1);
    this.camera.position.set(-6, -6, 5);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.target.set(0, 4, 0);
    this.controls.addEventListener("change", () => this.requestRender());

    this.grid = new THREE.GridHelper(GRID_SIZE_M, GRID_SIZE_M, 0x5a6a80, 0x2c3440);
    this.grid.rotation.x = Math.PI / 2; // GridHelper lies in x-z; the view is z up
    this.scene.add(this.grid);
    this.axes = new THREE.AxesHelper(0.6);
    this.scene.add(this.axes);

    const frustumGeometry = new THREE.BufferGeometry();
    frustumGeometry.setAttribute("position", new THREE.Float32BufferAttribute(new Float32Array(22 * 3), 3));
    this.frustum = new THREE.LineSegments(frustumGeometry, new THREE.LineBasicMaterial({ color: 0xd0d6de }));
    this.frustum.frustumCulled = false;
    this.scene.add(this.frustum);
    this.updateFrustum([0, 0, 0], frustumCornersCamera(4, 3, 4, this.frustumDepthM).map(cameraToView));
  }

  resize() {
    const width = Math.max(this.container.clientWidth, 1);
    const height = Math.max(this.container.clientHeight, 1);
    this.renderer.setSize(width, height);
    for (const material of this.lineMaterials) material.resolution.set(width, height);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.requestRender();
  }

  requestRender() {
    if (this.isRenderPending || !this.hasWebGL) return;
    this.isRenderPending = true;
    requestAnimationFrame(() => {
      this.isRenderPending = false;
      this.renderer.render(this.scene, this.camera);
    });
  }

  /** Forget every skeleton and trail (a new stream: new track ids). */
  reset() {
    for (const id of [...this.tracks.keys()]) this.removeSkeleton(id);
    for (const id of [...this.trails.keys()]) this.removeTrail(id);
    this.requestRender();
  }

  resetView() {
    this.isViewSet = false;
  }

  /**
   * Show one frame message.
   * @param message the per-frame message
   * @param edges [[a, b], ...] of its skeleton, or null (joints only)
   * @param camera {intrinsics, fovDeg} of the stream's config, for the frustum
   */
  update(message, edges, camera) {
    if (!this.hasWebGL) return;
    const scene = message.scene || null;
    const mode = scene && (scene.state === "calibrated" || scene.state === "given") ? "world" : "camera";
    if (mode !== this.frameMode) {
      this.frameMode = mode;
      this.worldFromCamera = null;
      for (const id of [...this.trails.keys()]) this.removeTrail(id);
      this.isViewSet = false;
    }
    if (mode === "world") this.updateWorldFromCamera(message);
    const people = message.persons.map((person) => this.viewJoints(person));
    this.updateFloor(people, message.persons);
    this.updateSkeletons(message.persons, people, edges);
    this.updateTrails(message, people);
    this.updateCameraFrustum(message, camera);
    this.grid.position.z = this.floorZ;
    this.axes.visible = mode === "world";
    if (!this.isViewSet) this.setView(people);
    this.label.textContent = this.describe(scene, mode);
    this.requestRender();
  }

  updateWorldFromCamera(message) {
    const person = message.persons.find((p) => p.joints_world && !p.predicted);
    const fromPairs = person ? rigidFromPairs(person.joints3d, person.joints_world) : null;
    this.worldFromCamera = fromPairs || rigidFromScene(message.scene) || this.worldFromCamera;
  }

  /** A person's joints in view coordinates. */
  viewJoints(person) {
    if (this.frameMode === "world") {
      if (person.joints_world) return person.joints_world;
      if (this.worldFromCamera) return person.joints3d.map((p) => applyRigid(this.worldFromCamera, p));
    }
    return person.joints3d.map(cameraToView);
  }

  cameraCentreAndCorners(corners) {
    if (this.frameMode === "world" && this.worldFromCamera) {
      return [applyRigid(this.worldFromCamera, [0, 0, 0]), corners.map((p) => applyRigid(this.worldFromCamera, p))];
    }
    return [[0, 0, 0], corners.map(cameraToView)];
  }

  /** World frame: the ground (z = 0). Camera frame: a floor at the people's feet. */
  updateFloor(people, persons) {
    if (this.frameMode === "world") {
      this.floorZ = 0;
      return;
    }
    const feet = [];
    people.forEach((joints, index) => {
      const seen = joints.filter((_, j) => persons[index].confidence[j] >= MIN_CONFIDENCE);
      if (seen.length && !persons[index].predicted) feet.push(Math.min(...seen.map((p) => p[2])));
    });
    if (!feet.length) return;
    feet.sort((a, b) => a - b);
    const median = feet[Math.floor(feet.length / 2)];
    this.floorZ += FLOOR_SMOOTHING * (median - this.floorZ);
  }

  updateSkeletons(persons, people, edges) {
    const present = new Set();
    persons.forEach((person, index) => {
      const id = person.track_id ?? `untracked-${index}`;
      present.add(id);
      let track = this.tracks.get(id);
      if (!track) {
        track = this.createSkeleton(person.track_id);
        this.tracks.set(id, track);
      }
      this.setSkeleton(track, people[index], person, edges);
    });
    for (const id of [...this.tracks.keys()]) if (!present.has(id)) this.removeSkeleton(id);
  }

  lineMaterial(trackId, widthPx, opacity = 1) {
    const material = new LineMaterial({
      color: new THREE.Color(...trackRgb(trackId)),
      linewidth: widthPx,
      transparent: true,
      opacity,
    });
    material.resolution.set(this.renderer.domElement.width, this.renderer.domElement.height);
    this.lineMaterials.add(material);
    return material;
  }

  /** ``object`` shows ``positions`` (flat x, y, z; segment pairs for wide lines) from now on. */
  setPositions(object, positions) {
    const old = object.geometry;
    let geometry;
    if (object.isLineSegments2) {
      geometry = new LineSegmentsGeometry();
      if (positions.length) geometry.setPositions(positions);
    } else {
      geometry = new THREE.BufferGeometry();
      geometry.setAttribute("position", new THREE.Float32BufferAttribute(positions, 3));
    }
    object.geometry = geometry;
    object.visible = positions.length > 0;
    old.dispose(); // frees its GPU buffers
  }

  disposeObject(object) {
    this.scene.remove(object);
    object.geometry.dispose();
    object.material.dispose();
    this.lineMaterials.delete(object.material);
  }

  createSkeleton(trackId) {
    const skeleton = new LineSegments2(new LineSegmentsGeometry(), this.lineMaterial(trackId, BONE_WIDTH_PX));
    const joints = new THREE.Points(
      new THREE.BufferGeometry(),
      new THREE.PointsMaterial({ color: new THREE.Color(...trackRgb(trackId)), size: 0.08, transparent: true }),
    );
    skeleton.frustumCulled = false;
    joints.frustumCulled = false;
    this.scene.add(skeleton, joints);
    return { skeleton, joints };
  }

  setSkeleton(track, joints, person, edges) {
    const seen = person.confidence.map((c) => c >= MIN_CONFIDENCE || person.predicted);
    const segments = [];
    for (const [a, b] of edges || []) if (seen[a] && seen[b]) segments.push(...joints[a], ...joints[b]);
    const points = joints.filter((_, j) => seen[j]).flat();
    this.setPositions(track.skeleton, segments);
    this.setPositions(track.joints, points);
    const opacity = person.predicted ? 0.35 : person.state === "tentative" ? 0.6 : 1;
    track.skeleton.material.opacity = opacity;
    track.joints.material.opacity = opacity;
  }

  removeSkeleton(id) {
    const track = this.tracks.get(id);
    this.disposeObject(track.skeleton);
    this.disposeObject(track.joints);
    this.tracks.delete(id);
  }

  updateTrails(message, people) {
    const timeS = message.timestamp;
    message.persons.forEach((person, index) => {
      // Confirmed tracks only: a tentative track may be a false detection that never confirms.
      if (person.track_id === null || person.track_id === undefined || person.state !== "confirmed") return;
      const joints = people[index];
      const ground = [
        joints.reduce((s, p) => s + p[0], 0) / joints.length,
        joints.reduce((s, p) => s + p[1], 0) / joints.length,
        this.floorZ + 0.01,
      ];
      let trail = this.trails.get(person.track_id);
      if (!trail) {
        trail = this.createTrail(person.track_id);
        this.trails.set(person.track_id, trail);
      }
      trail.lastSeenS = timeS;
      const last = trail.points[trail.points.length - 1];
      if (!last || Math.hypot(ground[0] - last[0], ground[1] - last[1]) >= TRAIL_MIN_STEP_M) {
        trail.points.push(ground);
        if (trail.points.length > TRAIL_MAX_POINTS) trail.points.shift();
      }
    });
    for (const [id, trail] of [...this.trails]) {
      if (timeS - trail.lastSeenS > TRAIL_KEEP_S || timeS < trail.lastSeenS) {
        this.removeTrail(id);
        continue;
      }
      const z = this.floorZ + 0.01;
      const segments = [];
      for (let k = 1; k < trail.points.length; k += 1) {
        const [a, b] = [trail.points[k - 1], trail.points[k]];
        segments.push(a[0], a[1], z, b[0], b[1], z);
      }
      this.setPositions(trail.line, segments);
    }
  }

  createTrail(trackId) {
    const line = new LineSegments2(new LineSegmentsGeometry(), this.lineMaterial(trackId, TRAIL_WIDTH_PX, 0.75));
    line.frustumCulled = false;
    this.scene.add(line);
    return { line, points: [], lastSeenS: -Infinity };
  }

  removeTrail(id) {
    this.disposeObject(this.trails.get(id).line);
    this.trails.delete(id);
  }

  updateCameraFrustum(message, camera) {
    if (!message.width || !message.height) return;
    const focal = focalPx(message, camera.intrinsics, camera.fovDeg);
    const corners = frustumCornersCamera(message.width, message.height, focal, this.frustumDepthM, camera.intrinsics);
    const [centre, viewCorners] = this.cameraCentreAndCorners(corners);
    this.updateFrustum(centre, viewCorners);
  }

  /** Four rays, the image rectangle, and a triangle on its top edge (the image's up). */
  updateFrustum(centre, corners) {
    const [tl, tr, br, bl] = corners;
    const mid = (a, b, s = 0.5) => a.map((v, i) => v + s * (b[i] - v));
    const topMid = mid(tl, tr);
    const bottomMid = mid(bl, br);
    const apex = topMid.map((v, i) => v + (v - bottomMid[i]) * 0.25);
    const pairs = [
      [centre, tl], [centre, tr], [centre, br], [centre, bl],
      [tl, tr], [tr, br], [br, bl], [bl, tl],
      [mid(tl, tr, 0.3), apex], [apex, mid(tl, tr, 0.7)],
      [centre, centre],
    ];
    const attribute = this.frustum.geometry.getAttribute("position");
    pairs.flat().forEach((point, i) => attribute.setXYZ(i, point[0], point[1], point[2]));
    attribute.needsUpdate = true;
    this.frustumCentre = centre;
  }

  /**
   * An overview from the side, 60 degrees off the camera's axis and 35 degrees up, at the
   * distance where the sphere around the people and the camera fits the view; the grid
   * centred there, the frustum scaled to the camera's distance from the people.
   */
  setView(people) {
    const seen = people.flat();
    if (!seen.length) return;
    const camera = this.frustumCentre || [0, 0, 0];
    const points = [...seen, camera];
    const low = [0, 1, 2].map((i) => Math.min(...points.map((p) => p[i])));
    const high = [0, 1, 2].map((i) => Math.max(...points.map((p) => p[i])));
    const target = [0, 1, 2].map((i) => (low[i] + high[i]) / 2);
    const radius = Math.max(2, ...points.map((p) => Math.hypot(p[0] - target[0], p[1] - target[1], p[2] - target[2])));
    const halfFovRad = Math.atan(Math.tan((this.camera.fov * Math.PI) / 360) * Math.min(this.camera.aspect, 1));
    const distance = (1.05 * radius) / Math.sin(halfFovRad);
    const centroid = [0, 1].map((i) => seen.reduce((s, p) => s + p[i], 0) / seen.length);
    const along = [centroid[0] - camera[0], centroid[1] - camera[1]];
    const range = Math.max(Math.hypot(...along), 1);
    const [dx, dy] = [along[0] / range, along[1] / range];
    const [offAxis, up] = [(60 * Math.PI) / 180, (35 * Math.PI) / 180];
    // the view direction: the camera's axis on the ground turned by offAxis (to the right)
    const view = [
      dx * Math.cos(offAxis) + dy * Math.sin(offAxis),
      dy * Math.cos(offAxis) - dx * Math.sin(offAxis),
    ];
    const horizontal = distance * Math.cos(up);
    this.controls.target.set(...target);
    this.camera.position.set(
      target[0] - view[0] * horizontal,
      target[1] - view[1] * horizontal,
      target[2] + distance * Math.sin(up),
    );
    this.controls.update();
    this.grid.position.x = Math.round(target[0]);
    this.grid.position.y = Math.round(target[1]);
    this.frustumDepthM = Math.min(Math.max(range * 0.1, 0.5), 3);
    this.isViewSet = true;
  }

  describe(scene, mode) {
    if (mode === "world") {
      const parts = [`world frame (${scene.state}): z up, metres, ground grid at z = 0`];
      if (scene.camera_height_m != null) {
        parts.push(
          `camera ${scene.camera_height_m.toFixed(1)} m up, pitch ${scene.pitch_deg.toFixed(1)}°, ` +
            `roll ${scene.roll_deg.toFixed(1)}°, focal ${Math.round(scene.focal_px)} px`,
        );
      }
      return parts.join("\n");
    }
    const state = scene ? scene.state : "no scene";
    return `camera frame (${state}): x right, y forward, z = camera up\ngrid 1 m through the people's feet (not the ground)`;
  }

  /** What the tests read: skeletons in the scene and their track ids, trails. */
  snapshot() {
    return {
      hasWebGL: this.hasWebGL,
      frameMode: this.frameMode,
      skeletons: this.tracks.size,
      trackIds: [...this.tracks.keys()],
      trails: this.trails.size,
      trailPoints: [...this.trails.values()].reduce((s, t) => s + t.points.length, 0),
      floorZ: this.floorZ,
      hasWorldFromCamera: this.worldFromCamera !== null,
    };
  }
}
