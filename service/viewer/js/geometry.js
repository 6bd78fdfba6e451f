// Frames of the 3D view (docs/viewer.md). The view is z up. In the world frame (scene
// calibrated or given) it shows world coordinates as they are (docs/scene.md: z up, metres,
// ground at 0); otherwise camera coordinates (x right, y down, z forward) turned so that the
// camera's down is the view's -z: display = (x, z, -y).

/** A camera-frame point [x, y, z] in the view's camera-frame coordinates. */
export function cameraToView([x, y, z]) {
  return [x, z, -y];
}

/** R p + t for a rigid transform {R: 3x3 rows, t: [3]}. */
export function applyRigid(transform, point) {
  const { R, t } = transform;
  return [0, 1, 2].map((i) => R[i][0] * point[0] + R[i][1] * point[1] + R[i][2] * point[2] + t[i]);
}

const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a, b) => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const norm = (a) => Math.sqrt(dot(a, a));
const scale = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
const unit = (a) => scale(a, 1 / norm(a));

/** Orthonormal frame (rows e1, e2, e3) of three points: e1 along p0->p1, e3 normal. */
function frameOf(p0, p1, p2) {
  const e1 = unit(sub(p1, p0));
  const e3 = unit(cross(e1, sub(p2, p0)));
  return [e1, cross(e3, e1), e3];
}

/**
 * world_from_camera from one skeleton seen in both frames (joints3d and joints_world are
 * the same points moved rigidly: posecast.pipeline.scene.with_world_joints). Uses three
 * well-spread joints; null when the points are (nearly) collinear.
 */
export function rigidFromPairs(cameraPoints, worldPoints) {
  const count = cameraPoints.length;
  if (count < 3 || worldPoints.length !== count) return null;
  const centroid = [0, 1, 2].map((i) => cameraPoints.reduce((s, p) => s + p[i], 0) / count);
  const farthestFrom = (origin) => {
    let best = 0;
    for (let k = 1; k < count; k += 1) {
      if (norm(sub(cameraPoints[k], origin)) > norm(sub(cameraPoints[best], origin))) best = k;
    }
    return best;
  };
  const i0 = farthestFrom(centroid);
  const i1 = farthestFrom(cameraPoints[i0]);
  let i2 = -1;
  let bestArea = 0;
  for (let k = 0; k < count; k += 1) {
    const area = norm(cross(sub(cameraPoints[i1], cameraPoints[i0]), sub(cameraPoints[k], cameraPoints[i0])));
    if (area > bestArea) {
      bestArea = area;
      i2 = k;
    }
  }
  if (i2 < 0 || bestArea < 1e-4) return null;
  const frameCamera = frameOf(cameraPoints[i0], cameraPoints[i1], cameraPoints[i2]);
  const frameWorld = frameOf(worldPoints[i0], worldPoints[i1], worldPoints[i2]);
  // R = Fw^T Fc with the frames' rows as axes: maps camera axes onto world axes.
  const R = [0, 1, 2].map((i) =>
    [0, 1, 2].map((j) => frameWorld.reduce((s, axisW, k) => s + axisW[i] * frameCamera[k][j], 0)),
  );
  const rotated = applyRigid({ R, t: [0, 0, 0] }, cameraPoints[i0]);
  return { R, t: sub(worldPoints[i0], rotated) };
}

/**
 * world_from_camera of the ground plane's world frame from the scene's pitch, roll and
 * camera height (docs/scene.md: origin below the camera, x along the viewing direction on
 * the ground, z up); null when the message does not give them.
 */
export function rigidFromScene(scene) {
  if (!scene || scene.camera_height_m == null || scene.pitch_deg == null || scene.roll_deg == null) {
    return null;
  }
  const pitch = (scene.pitch_deg * Math.PI) / 180;
  const roll = (scene.roll_deg * Math.PI) / 180;
  const up = [Math.sin(roll) * Math.cos(pitch), -Math.cos(roll) * Math.cos(pitch), -Math.sin(pitch)];
  let forward = sub([0, 0, 1], scale(up, up[2]));
  if (norm(forward) < 1e-6) forward = sub([0, -1, 0], scale(up, -up[1]));  // looking straight down
  const x = unit(forward);
  const y = cross(up, x);
  return { R: [x, y, up], t: [0, 0, scene.camera_height_m] };
}

/** The focal length in pixels: the scene's, else the intrinsics' K, else from the fov. */
export function focalPx(message, intrinsics, fovDeg) {
  if (message.scene && message.scene.focal_px) return message.scene.focal_px;
  if (intrinsics && Array.isArray(intrinsics.K)) return intrinsics.K[0][0];
  const longer = Math.max(message.width, message.height);
  return longer / 2 / Math.tan(((fovDeg || 55) * Math.PI) / 360);
}

/** Camera-frame corners of the image at ``depthM`` (top-left, top-right, bottom-right,
 * bottom-left), principal point at the image centre unless K gives it. */
export function frustumCornersCamera(width, height, focal, depthM, intrinsics) {
  const K = intrinsics && Array.isArray(intrinsics.K) ? intrinsics.K : null;
  const cx = K ? K[0][2] : width / 2;
  const cy = K ? K[1][2] : height / 2;
  return [
    [0, 0],
    [width, 0],
    [width, height],
    [0, height],
  ].map(([u, v]) => [((u - cx) / focal) * depthM, ((v - cy) / focal) * depthM, depthM]);
}
