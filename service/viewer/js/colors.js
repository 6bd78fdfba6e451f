// One colour per track id, the same in the 2D overlay and the 3D scene.

const GOLDEN_ANGLE_DEG = 137.508;

/** Hue in [0, 360) of a track id: consecutive ids get well-separated hues. */
export function trackHueDeg(trackId) {
  if (trackId === null || trackId === undefined) return 0;
  return (trackId * GOLDEN_ANGLE_DEG + 30) % 360;
}

/** CSS colour of a track (grey for untracked persons). */
export function trackCss(trackId, alpha = 1) {
  if (trackId === null || trackId === undefined) return `rgba(200, 200, 200, ${alpha})`;
  return `hsla(${trackHueDeg(trackId).toFixed(1)}, 90%, 58%, ${alpha})`;
}

/** [r, g, b] in [0, 1] of a track, for three.js. */
export function trackRgb(trackId) {
  if (trackId === null || trackId === undefined) return [0.8, 0.8, 0.8];
  return hslToRgb(trackHueDeg(trackId) / 360, 0.9, 0.58);
}

function hslToRgb(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const channel = (n) => {
    const k = (n + h * 12) % 12;
    return l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return [channel(0), channel(8), channel(4)];
}
