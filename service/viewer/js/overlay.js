// 2D skeletons over the video: one canvas at the frame's pixel size, scaled with the video.

import { trackCss } from "./colors.js";

const MIN_CONFIDENCE = 0.3;

export class Overlay {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.drawn = { skeletons: 0, joints: 0, edges: 0, trackIds: [] };
  }

  clear() {
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = { skeletons: 0, joints: 0, edges: 0, trackIds: [] };
  }

  /** Draw every person of a frame message; ``edges``: [[a, b], ...] of its skeleton or null. */
  draw(message, edges) {
    const { canvas, context } = this;
    if (canvas.width !== message.width || canvas.height !== message.height) {
      canvas.width = message.width;
      canvas.height = message.height;
    }
    this.clear();
    const lineWidth = Math.max(2, message.width / 320);
    let joints = 0;
    let edgeCount = 0;
    for (const person of message.persons) {
      const alpha = person.predicted ? 0.45 : 1;
      const colour = trackCss(person.track_id, alpha);
      const points = person.joints2d;
      const seen = person.confidence.map((c) => c >= MIN_CONFIDENCE);
      context.strokeStyle = colour;
      context.fillStyle = colour;
      context.lineWidth = lineWidth;
      context.setLineDash(person.state === "tentative" || person.predicted ? [6, 4] : []);
      context.beginPath();
      for (const [a, b] of edges || []) {
        if (!seen[a] || !seen[b]) continue;
        context.moveTo(points[a][0], points[a][1]);
        context.lineTo(points[b][0], points[b][1]);
        edgeCount += 1;
      }
      context.stroke();
      context.setLineDash([]);
      for (let j = 0; j < points.length; j += 1) {
        if (!seen[j]) continue;
        context.beginPath();
        context.arc(points[j][0], points[j][1], lineWidth * 1.1, 0, 2 * Math.PI);
        context.fill();
        joints += 1;
      }
      this.label(person, colour, lineWidth);
    }
    this.drawn = {
      skeletons: message.persons.length,
      joints,
      edges: edgeCount,
      trackIds: message.persons.map((person) => person.track_id),
    };
  }

  label(person, colour, lineWidth) {
    if (person.track_id === null || person.track_id === undefined) return;
    const { context } = this;
    const [x1, y1] = person.box;
    const text = `#${person.track_id}`;
    context.font = `${Math.round(lineWidth * 6)}px system-ui, sans-serif`;
    const width = context.measureText(text).width + lineWidth * 2;
    const height = lineWidth * 7;
    context.fillStyle = colour;
    context.fillRect(x1, Math.max(0, y1 - height), width, height);
    context.fillStyle = "#111";
    context.fillText(text, x1 + lineWidth, Math.max(height, y1) - lineWidth * 1.5);
  }
}
