"""The MeTRAbs rows of ``benchmarks/gpu_check.py``: a converted MeTRAbs model (yours, or the
committed stand-in) on every provider variant that loads, against onnxruntime's CPU.

Per variant, on fixed crops (the person crops of ``benchmarks/data/gpu_check_reference.npz``,
resized to the model's input when it is not 256 px):

- max |difference| of the network's outputs to onnxruntime CPU: 2D points (crop px) and
  relative 3D points (mm);
- the decoded joints (posecast's per-crop reconstruction, crop camera frame) against the
  CPU's, mm;
- FP16 against the same provider's FP32 (joints mm, points px): the accuracy check the
  ``--fp16`` option needs before use;
- crops/s at batch 1, 8 and 32.

Needs OpenCV besides numpy (the decoding's geometry); skipped without. Tolerances as the
landmark models': FP32 2 mm / 0.5 px, FP16 20 mm / 4 px.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

BATCH_SIZES = (1, 8, 32)
TOLERANCES = {
    "fp32": {"joints_max_mm": 2.0, "points_max_px": 0.5},
    "fp16": {"joints_max_mm": 20.0, "points_max_px": 4.0},
}


def fixed_crops(reference: dict[str, np.ndarray], size_px: int) -> tuple[np.ndarray, np.ndarray]:
    """(M, S, S, 3) float32 crops in [0, 1] and (M, 3, 3) crop intrinsics (a 55 degree
    camera's person zoomed to fill the crop: f = 2.5 S)."""
    import cv2

    crops = reference["input/landmark_crops"]
    if crops.shape[1] != size_px:
        crops = np.stack([cv2.resize(crop, (size_px, size_px)) for crop in crops])
    K = np.array([[2.5 * size_px, 0, size_px / 2], [0, 2.5 * size_px, size_px / 2], [0, 0, 1]])
    return crops.astype(np.float32) / np.float32(255.0), np.tile(K, (len(crops), 1, 1))


def _outputs(crop_model: Any, crops: np.ndarray, K: np.ndarray) -> dict[str, np.ndarray]:
    points2d, points3d = crop_model.run(crops)
    poses = crop_model.predict(crops, K)
    return {
        "points2d_px": points2d,
        "points3d_mm": points3d * 1000.0,
        "joints_mm": poses.joints_crop_m * 1000.0,
    }


def _differences(
    outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]
) -> dict[str, float]:
    return {
        "points2d_max_px": float(np.abs(outputs["points2d_px"] - reference["points2d_px"]).max()),
        "points3d_max_mm": float(np.abs(outputs["points3d_mm"] - reference["points3d_mm"]).max()),
        "joints_max_mm": float(np.nanmax(np.abs(outputs["joints_mm"] - reference["joints_mm"]))),
        "joints_mean_mm": float(
            np.nanmean(np.linalg.norm(outputs["joints_mm"] - reference["joints_mm"], axis=-1))
        ),
    }


def _crops_per_second(crop_model: Any, crops: np.ndarray, seconds: float) -> dict[int, float]:
    result = {}
    for batch_size in BATCH_SIZES:
        batch = np.resize(crops, (batch_size, *crops.shape[1:]))
        crop_model.run(batch)  # warm-up
        runs, start = 0, time.perf_counter()
        while runs < 2 or time.perf_counter() - start < seconds:
            crop_model.run(batch)
            runs += 1
        result[batch_size] = runs * batch_size / (time.perf_counter() - start)
    return result


def metrabs_rows(
    model_dir: Path,
    variants: list[Any],
    reference: dict[str, np.ndarray],
    seconds: float,
) -> dict[str, Any]:
    """The MeTRAbs section: ``{"model": ..., "rows": [...]}`` or ``{"skipped": why}``.

    Args:
        model_dir: a folder written by tools/convert_metrabs.py.
        variants: gpu_check's ``Variant`` objects (their ``options(model)`` give the runtime
            options; the profile covers batches up to the largest here).
        reference: gpu_check's reference arrays (for the fixed crops).
        seconds: time per throughput figure.
    """
    try:
        from posecast.engines.metrabs.estimator import load_metrabs_crop_model
    except ImportError as error:
        return {"skipped": f"needs {error.name}"}
    try:
        cpu = load_metrabs_crop_model(model_dir)
    except Exception as error:  # no model there: say so, do not fail the whole check
        return {"skipped": f"{type(error).__name__}: {error}"}
    crops, K = fixed_crops(reference, cpu.input_size_px)
    cpu_outputs = _outputs(cpu, crops, K)
    fp32: dict[str, dict[str, np.ndarray]] = {}
    rows = []
    for variant in variants:
        row: dict[str, Any] = {"variant": variant.name}
        try:
            options = variant.options("metrabs", max(BATCH_SIZES))
            crop_model = load_metrabs_crop_model(model_dir, options)
            outputs = _outputs(crop_model, crops, K)
        except Exception as error:  # this provider cannot run it here
            row["unavailable"] = f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
            rows.append(row)
            continue
        row["vs_cpu"] = _differences(outputs, cpu_outputs)
        if not variant.fp16:
            fp32[variant.provider] = outputs
        elif variant.provider in fp32:
            row["fp16_vs_fp32"] = _differences(outputs, fp32[variant.provider])
        bounds = TOLERANCES["fp16" if variant.fp16 else "fp32"]
        row["within_tolerance"] = (
            row["vs_cpu"]["joints_max_mm"] <= bounds["joints_max_mm"]
            and row["vs_cpu"]["points2d_max_px"] <= bounds["points_max_px"]
        )
        if not getattr(variant, "is_accuracy_only", False):
            row["crops_per_s"] = _crops_per_second(crop_model, crops, seconds)
        rows.append(row)
    return {"model": str(model_dir), "crops": len(crops), "tolerances": TOLERANCES, "rows": rows}


def metrabs_table(section: dict[str, Any], format_value: Any) -> str:
    """The section as a markdown table (``format_value(value, digits)`` as gpu_check's)."""
    if "skipped" in section:
        return f"MeTRAbs: skipped ({section['skipped']})"
    header = (
        "| MeTRAbs provider | points 2D px max | points 3D mm max | joints mm mean/max "
        "| fp16-fp32 joints mm max | fp16-fp32 2D px max "
        + "".join(f"| crops/s b{size} " for size in BATCH_SIZES)
        + "| within tolerance |"
    )
    lines = [f"MeTRAbs model: {section['model']}", header, "|" + "---|" * (header.count("|") - 1)]
    for row in section["rows"]:
        if "unavailable" in row:
            lines.append(f"| {row['variant']} | not available: {row['unavailable']} |")
            continue
        diff = row["vs_cpu"]
        fp16 = row.get("fp16_vs_fp32", {})
        speed = row.get("crops_per_s", {})
        cells = [
            row["variant"],
            format_value(diff["points2d_max_px"], 4),
            format_value(diff["points3d_max_mm"], 3),
            f"{format_value(diff['joints_mean_mm'], 3)} / {format_value(diff['joints_max_mm'], 3)}",
            format_value(fp16.get("joints_max_mm"), 2),
            format_value(fp16.get("points2d_max_px"), 3),
            *[format_value(speed.get(size), 0) for size in BATCH_SIZES],
            {True: "yes", False: "NO"}[row["within_tolerance"]],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
