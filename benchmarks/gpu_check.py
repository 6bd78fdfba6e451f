"""GPU check: every provider this host has, against onnxruntime's CPU outputs, in one table.

For each provider variant that loads here (onnxruntime CPU/CUDA/TensorRT EP, native
TensorRT, torch on CUDA in FP32/FP16/FP16 with CUDA graphs, torch on the CPU):

- max |difference| to the onnxruntime-CPU outputs per model, on the fixed inputs of
  ``benchmarks/data/gpu_check_reference.npz`` (person crops and a frame of the bundled sample
  clip, with the CPU outputs stored beside them);
- skeleton error in mm: the landmark models' metric 3D joints against the CPU's (mean / max
  over the 33 joints of the reference crops), and for FP16 the same against its own FP32;
- crops/s of the full landmark model at batch 1, 8, 32, 64;
- the full pipeline's frames/s on the sample clip (needs OpenCV and SciPy; skipped without);
- the dynamic batcher's gain: items/s of 8 concurrent streams through one batcher over 8
  streams calling the model directly;
- a converted MeTRAbs model (``--metrabs-dir``, default the committed stand-in): its outputs
  and decoded joints against onnxruntime CPU, FP16 against FP32 on fixed crops, crops/s
  (``benchmarks/metrabs_check.py``, docs/metrabs.md).

It prints one table and writes everything to JSON. Made for a bare CUDA host with PyTorch and
numpy only, nothing installed: it imports posecast from this checkout, and the torch provider
reads the ONNX files itself (docs/gpu.md). About 1-3 minutes on a GPU host; on a 2-core CPU
machine about 5 minutes (CPU providers only).

    python benchmarks/gpu_check.py [--out gpu_check.json] [--providers torch cpu ...]
    python benchmarks/gpu_check.py --write-reference   # regenerate the reference (CPU, cv2)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

if sys.version_info < (3, 11):  # noqa: UP036 (a bare GPU host may have an older Python)
    raise SystemExit(f"posecast needs Python >= 3.11; this is {platform.python_version()}")

REPO = Path(__file__).resolve().parent.parent
REFERENCE = Path(__file__).resolve().parent / "data" / "gpu_check_reference.npz"
SAMPLE_CLIP = REPO / "samples" / "vtest_excerpt.mp4"


def import_posecast() -> None:
    """Make ``posecast.*`` importable: installed, or straight from this checkout (the folders
    ``engines/``, ``service/``, ... are subpackages of ``posecast``, docs/layout.md)."""
    try:
        importlib.import_module("posecast.engines.runtimes")
    except ImportError:
        sys.path.insert(0, str(REPO))
        import posecast

        if str(REPO) not in posecast.__path__:
            posecast.__path__.append(str(REPO))
        importlib.import_module("posecast.engines.runtimes")


import_posecast()

from metrabs_check import metrabs_rows, metrabs_table  # noqa: E402

from posecast.engines.assets import model_path  # noqa: E402
from posecast.engines.batched_runtime import BatchedRuntime  # noqa: E402
from posecast.engines.batcher import BatcherConfig, DynamicBatcher, stacking_run_batch  # noqa: E402
from posecast.engines.runtimes import BatchProfile, Runtime, RuntimeOptions  # noqa: E402
from posecast.engines.runtimes import create_runtime as _create_runtime  # noqa: E402

MODELS = ("pose_landmark_full", "pose_landmark_lite", "pose_detection", "nanodet_416")
LANDMARK_MODELS = ("pose_landmark_full", "pose_landmark_lite")
THROUGHPUT_MODEL = "pose_landmark_full"
BATCH_SIZES = (1, 8, 32, 64)
DETECTOR_INPUT_WH = (384, 288)  # the sample clip (768 x 576) at half size, stride multiples
NUM_STREAMS = 8
CPU_PROVIDERS = ("cpu", "torch-cpu")
NANODET_MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
NANODET_STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)

TOLERANCES = {
    # FP32 against onnxruntime CPU: kernels differ in summation order (and TF32 convolutions
    # on Ampere and later GPUs under torch's default), nothing else.
    "fp32": {"skeleton_max_mm": 2.0, "landmarks_max_px": 0.5},
    # FP16: half-precision activations; BlazePose's own error is ~50 mm, so a few mm is noise.
    "fp16": {"skeleton_max_mm": 20.0, "landmarks_max_px": 4.0},
}
"""Pass/fail bounds of the check per precision: 3D joints (world landmarks, mm) and 2D
landmarks (crop px, of 256) of the landmark models on the reference crops."""


@dataclass(frozen=True)
class Variant:
    provider: str
    fp16: bool = False
    cuda_graphs: bool = False
    threads: int = 0  # threads of the CPU providers (0: their default)

    @property
    def is_accuracy_only(self) -> bool:
        """FP16 on the CPU is an accuracy reference only (no fast half-precision kernels)."""
        return self.provider == "torch-cpu" and self.fp16

    @property
    def name(self) -> str:
        precision = "fp16" if self.fp16 else "fp32"
        return f"{self.provider} {precision}" + (" +graphs" if self.cuda_graphs else "")

    def options(self, model: str, max_batch: int = max(BATCH_SIZES)) -> RuntimeOptions:
        item_shapes = ()
        if model == "nanodet_416":
            item_shapes = (("image", (DETECTOR_INPUT_WH[1], DETECTOR_INPUT_WH[0], 3)),)
        return RuntimeOptions(
            provider=self.provider,  # type: ignore[arg-type]
            fp16=self.fp16,
            cuda_graphs=self.cuda_graphs,
            profile=BatchProfile(1, min(8, max_batch), max_batch),
            item_shapes=item_shapes,
            intra_op_threads=self.threads if self.provider in CPU_PROVIDERS else 0,
        )


VARIANTS = (
    Variant("cpu"),
    Variant("cuda"),
    Variant("tensorrt-ep"),
    Variant("tensorrt-ep", fp16=True),
    Variant("tensorrt"),
    Variant("tensorrt", fp16=True),
    Variant("torch"),
    Variant("torch", fp16=True),
    Variant("torch", fp16=True, cuda_graphs=True),
    Variant("torch-cpu"),
    Variant("torch-cpu", fp16=True),
)


def create_runtime(variant: Variant, model: str, max_batch: int = max(BATCH_SIZES)) -> Runtime:
    return _create_runtime(model_path(model), variant.options(model, max_batch))


# -- reference inputs ----------------------------------------------------------------------


def model_inputs(reference: dict[str, np.ndarray], model: str) -> np.ndarray:
    """The float32 input batch of ``model`` from the stored uint8 images (the models' own
    preprocessing: BlazePose / 255, the pose detector * 2 / 255 - 1, NanoDet BGR mean/std)."""
    if model in LANDMARK_MODELS:
        return reference["input/landmark_crops"].astype(np.float32) / np.float32(255.0)
    if model == "pose_detection":
        crops = reference["input/alignment_crops"].astype(np.float32)
        return crops * np.float32(2.0 / 255.0) - np.float32(1.0)
    canvas_bgr = reference["input/detector_canvas"][..., ::-1].astype(np.float32)
    return (canvas_bgr - NANODET_MEAN_BGR) / NANODET_STD_BGR


def compared_outputs(model: str, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The outputs the check compares, as the reference file stores them (small enough to
    travel with the repository): of NanoDet's 80 class scores only the person's (posecast
    uses no other); the landmark heatmaps as probabilities (the sigmoid that the landmark
    refinement applies), stored in float16, which adds at most 2.4e-4 to their difference."""
    compared = dict(outputs)
    if model == "nanodet_416":
        for name in outputs:
            if name.startswith("scores"):
                compared[name] = outputs[name][..., :1]
    if "heatmap" in outputs:
        logits = outputs["heatmap"].astype(np.float32)
        compared["heatmap_sigmoid"] = 1.0 / (1.0 + np.exp(-logits))
        del compared["heatmap"]
    return compared


def write_reference(path: Path) -> None:
    """Person crops of the sample clip's first frame (the CPU pipeline's own ROIs and boxes),
    that frame at the detector's input size, and onnxruntime-CPU outputs for all of them."""
    import cv2

    from posecast.engines.detectors.base import DetectorConfig
    from posecast.engines.estimator import EstimatorConfig, PoseEstimator

    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    ok, frame_bgr = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"cannot read {SAMPLE_CLIP}")
    image = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    config = EstimatorConfig(detector=DetectorConfig(input_size_wh=DETECTOR_INPUT_WH))
    estimator = PoseEstimator.from_config(config, RuntimeOptions(provider="cpu"))
    (boxes,) = estimator.detector.detect([image])
    order = np.argsort(-boxes.scores)[:4]
    rois = estimator.aligner.rois_from_boxes(image, boxes.boxes_xyxy[order])
    landmark_crops = estimator.pose_model.preprocess(image, rois)
    aligner = estimator.aligner
    alignment_crops = np.stack(
        [aligner.preprocess(image, boxes.boxes_xyxy[index]) for index in order]
    )
    canvas = cv2.resize(image, DETECTOR_INPUT_WH, interpolation=cv2.INTER_AREA)[None]
    reference = {
        "input/landmark_crops": np.round(landmark_crops * 255.0).astype(np.uint8),
        "input/alignment_crops": np.round((alignment_crops + 1.0) * 127.5).astype(np.uint8),
        "input/detector_canvas": canvas,
    }
    cpu = Variant("cpu")
    for model in MODELS:
        with create_runtime(cpu, model) as runtime:
            outputs = runtime.infer({"image": model_inputs(reference, model)})
        for name, value in compared_outputs(model, outputs).items():
            stored_dtype = np.float16 if name == "heatmap_sigmoid" else np.float32
            reference[f"{model}/{name}"] = value.astype(stored_dtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **reference)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


# -- measurements --------------------------------------------------------------------------


def skeleton_error_mm(world_a: np.ndarray, world_b: np.ndarray) -> dict[str, float]:
    """Mean and max per-joint 3D distance (mm) of the 33 body joints of (N, 117) outputs."""
    a = world_a.reshape(len(world_a), -1, 3)[:, :33]
    b = world_b.reshape(len(world_b), -1, 3)[:, :33]
    distances_mm = np.linalg.norm(a.astype(np.float64) - b, axis=-1) * 1000.0
    return {"mean": float(distances_mm.mean()), "max": float(distances_mm.max())}


def landmarks_error_px(landmarks_a: np.ndarray, landmarks_b: np.ndarray) -> float:
    """Max 2D distance (crop px) of the 33 body landmarks of (N, 195) outputs."""
    a = landmarks_a.reshape(len(landmarks_a), -1, 5)[:, :33, :2]
    b = landmarks_b.reshape(len(landmarks_b), -1, 5)[:, :33, :2]
    return float(np.linalg.norm(a.astype(np.float64) - b, axis=-1).max())


def accuracy(variant: Variant, reference: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per model: max |diff| per output to the stored CPU outputs, and the outputs themselves
    (kept for the FP16-vs-FP32 comparison)."""
    result: dict[str, Any] = {}
    for model in MODELS:
        with create_runtime(variant, model) as runtime:
            outputs = compared_outputs(
                model, runtime.infer({"image": model_inputs(reference, model)})
            )
        entry: dict[str, Any] = {
            "max_abs_diff": {
                name: float(np.abs(value - reference[f"{model}/{name}"].astype(np.float32)).max())
                for name, value in outputs.items()
            },
            "outputs": outputs,
        }
        if model in LANDMARK_MODELS:
            entry["skeleton_mm"] = skeleton_error_mm(
                outputs["world_landmarks"], reference[f"{model}/world_landmarks"]
            )
            entry["landmarks_max_px"] = landmarks_error_px(
                outputs["landmarks"], reference[f"{model}/landmarks"]
            )
        result[model] = entry
    return result


def crops_per_second(
    variant: Variant, crops: np.ndarray, seconds: float, slow_run_s: float
) -> dict[int, float | None]:
    """Crops/s of the full landmark model at each batch size (tiled reference crops): one
    warm-up run, then runs for ``seconds``; sizes after one whose run took over
    ``slow_run_s`` are skipped (None)."""
    result: dict[int, float | None] = {}
    with create_runtime(variant, THROUGHPUT_MODEL) as runtime:
        for batch_size in BATCH_SIZES:
            if result and any(value is None for value in result.values()):
                result[batch_size] = None
                continue
            batch = np.resize(crops, (batch_size, *crops.shape[1:]))
            start = time.perf_counter()
            runtime.infer({"image": batch})  # warm-up: allocations, kernels, graph capture
            if time.perf_counter() - start > slow_run_s:
                result[batch_size] = None
                continue
            runs, start = 0, time.perf_counter()
            while runs < 2 or time.perf_counter() - start < seconds:
                runtime.infer({"image": batch})
                runs += 1
            result[batch_size] = runs * batch_size / (time.perf_counter() - start)
    return result


def pipeline_fps(variant: Variant, num_frames: int) -> dict[str, Any]:
    """Frames/s of the whole per-frame pipeline (detect, align, pose, place, track) on the
    sample clip, after 3 warm-up frames; needs OpenCV and SciPy."""
    try:
        import cv2

        from posecast.engines.detectors.base import DetectorConfig
        from posecast.engines.estimator import EstimatorConfig, PoseEstimator
        from posecast.pipeline.stream import StreamConfig, StreamPipeline
    except ImportError as error:
        return {"skipped": f"needs {error.name}"}
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    frames = []
    while len(frames) < num_frames + 3:
        ok, frame_bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    config = EstimatorConfig(detector=DetectorConfig(input_size_wh=DETECTOR_INPUT_WH))
    options = variant.options("pose_landmark_full", max_batch=16)
    estimator = PoseEstimator.from_config(config, options)
    pipeline = StreamPipeline(estimator, StreamConfig())
    persons = 0
    for index, frame in enumerate(frames):
        if index == 3:
            start = time.perf_counter()
        tracked = pipeline.process(frame, timestamp_s=index / 25.0)
        persons += len(tracked.poses) if index >= 3 else 0
    elapsed = time.perf_counter() - start
    timed = len(frames) - 3
    return {"fps": timed / elapsed, "frames": timed, "persons_per_frame": persons / timed}


def batcher_gain(variant: Variant, crops: np.ndarray, seconds: float) -> dict[str, Any]:
    """Items/s of ``NUM_STREAMS`` closed-loop streams, each posing one crop at a time: calling
    the model directly (one run per item) vs through one dynamic batcher (items of all
    streams share runs)."""
    with create_runtime(variant, THROUGHPUT_MODEL, max_batch=NUM_STREAMS) as runtime:
        runtime.infer({"image": crops[:1]})
        direct = _closed_loop(runtime, crops, seconds)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        config = BatcherConfig(max_batch_size=NUM_STREAMS, max_delay_s=0.0, max_queue_size=64)
        batcher = DynamicBatcher(stacking_run_batch(runtime), config, name="pose")

        async def start() -> None:
            batcher.start()

        asyncio.run_coroutine_threadsafe(start(), loop).result()
        try:
            batched_runtime = BatchedRuntime(runtime, batcher, loop)
            batched_runtime.infer({"image": crops[:1]})
            batched = _closed_loop(batched_runtime, crops, seconds)
        finally:
            asyncio.run_coroutine_threadsafe(batcher.stop(), loop).result()
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
    return {
        "streams": NUM_STREAMS,
        "direct_items_per_s": direct,
        "batched_items_per_s": batched,
        "gain": batched / direct,
    }


def _closed_loop(runtime: Runtime, crops: np.ndarray, seconds: float) -> float:
    counts = [0] * NUM_STREAMS
    stop_at = time.perf_counter() + seconds

    def stream(index: int) -> None:
        crop = crops[index % len(crops)][None]
        while time.perf_counter() < stop_at:
            runtime.infer({"image": crop})
            counts[index] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=stream, args=(i,)) for i in range(NUM_STREAMS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


# -- environment and report ----------------------------------------------------------------


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("torch", "onnxruntime", "tensorrt", "cv2", "scipy"):
        try:
            module = importlib.import_module(name)
            info[name] = getattr(module, "__version__", "?")
        except ImportError:
            info[name] = None
    if info["torch"]:
        import torch

        info["cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["compute_capability"] = list(torch.cuda.get_device_capability(0))
            info["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
        else:
            info["gpu"] = None
    if info["onnxruntime"]:
        import onnxruntime

        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    return info


def availability(variant: Variant) -> str | None:
    """None if the variant loads here, else why not (one line)."""
    try:
        with create_runtime(variant, "pose_landmark_lite", max_batch=8):
            return None
    except Exception as error:  # any failure to load means: not available on this host
        return f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"


def _format(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) and (abs(value) < 10**-digits or abs(value) >= 1e5):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| provider | full max Δ | lite max Δ | align max Δ | nanodet max Δ "
        "| skeleton mm mean/max | 2D px max | fp16-fp32 mm max "
        + "".join(f"| crops/s b{size} " for size in BATCH_SIZES)
        + "| pipeline fps | batcher gain | within tolerance |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row in rows:
        if row.get("unavailable"):
            lines.append(f"| {row['variant']} | not available: {row['unavailable']} |")
            continue
        acc = row.get("accuracy", {})
        cells = [row["variant"]]
        for model in MODELS:
            diffs = acc.get(model, {}).get("max_abs_diff", {})
            cells.append(_format(max(diffs.values()), 4) if diffs else "-")
        skeleton = acc.get("pose_landmark_full", {}).get("skeleton_mm")
        cells.append(
            f"{_format(skeleton['mean'], 2)} / {_format(skeleton['max'], 2)}" if skeleton else "-"
        )
        cells.append(_format(acc.get("pose_landmark_full", {}).get("landmarks_max_px"), 3))
        cells.append(_format(row.get("fp16_vs_fp32_mm", {}).get("max"), 2))
        throughput = row.get("crops_per_s", {})
        cells += [_format(throughput.get(size), 0) for size in BATCH_SIZES]
        cells.append(_section_cell(row.get("pipeline", {}), "fps"))
        cells.append(_section_cell(row.get("batcher", {}), "gain"))
        cells.append({True: "yes", False: "NO", None: "-"}[row.get("within_tolerance")])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _section_cell(section: dict[str, Any], key: str) -> str:
    if "skipped" in section:
        return f"skipped ({section['skipped']})"
    if "error" in section:
        return "error (JSON)"
    return _format(section.get(key), 2)


def within_tolerance(variant: Variant, acc: dict[str, Any]) -> bool:
    bounds = TOLERANCES["fp16" if variant.fp16 else "fp32"]
    return all(
        acc[model]["skeleton_mm"]["max"] <= bounds["skeleton_max_mm"]
        and acc[model]["landmarks_max_px"] <= bounds["landmarks_max_px"]
        for model in LANDMARK_MODELS
    )


def check_variant(
    variant: Variant,
    reference: dict[str, np.ndarray],
    fp32_outputs: dict[str, dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": variant.name}
    reason = availability(variant)
    if reason is not None:
        row["unavailable"] = reason
        return row
    crops = model_inputs(reference, THROUGHPUT_MODEL)
    sections: list[tuple[str, Callable[[], Any]]] = [
        ("accuracy", lambda: accuracy(variant, reference)),
        ("crops_per_s", lambda: crops_per_second(variant, crops, args.seconds, args.slow_run_s)),
        ("pipeline", lambda: pipeline_fps(variant, args.frames)),
        ("batcher", lambda: batcher_gain(variant, crops, args.seconds)),
    ]
    if variant.is_accuracy_only:
        sections = sections[:1]
    for name, measure in sections:
        print(f"  {variant.name}: {name} ...", file=sys.stderr, flush=True)
        try:
            row[name] = measure()
        except Exception as error:  # one failing section must not hide the others
            row[name] = {"error": f"{type(error).__name__}: {error}"}
            traceback.print_exc()
    acc = row["accuracy"]
    if "error" not in acc:
        row["within_tolerance"] = within_tolerance(variant, acc)
        outputs = {model: acc[model]["outputs"] for model in LANDMARK_MODELS}
        if not variant.fp16:
            fp32_outputs[variant.provider] = outputs
        elif variant.provider in fp32_outputs:
            own_fp32 = fp32_outputs[variant.provider]["pose_landmark_full"]["world_landmarks"]
            row["fp16_vs_fp32_mm"] = skeleton_error_mm(
                outputs["pose_landmark_full"]["world_landmarks"], own_fp32
            )
    return row


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items() if key != "outputs"}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="JSON file")
    parser.add_argument(
        "--providers", nargs="*", help="only these providers (default: every one that loads)"
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="time per throughput figure")
    parser.add_argument(
        "--slow-run-s", type=float, default=8.0, help="skip larger batches after a run this slow"
    )
    parser.add_argument("--frames", type=int, default=20, help="timed pipeline frames")
    parser.add_argument(
        "--threads", type=int, default=0, help="threads of the CPU providers (0: default)"
    )
    parser.add_argument("--write-reference", action="store_true", help=write_reference.__doc__)
    parser.add_argument(
        "--metrabs-dir",
        default=str(REPO / "tests" / "data" / "metrabs" / "standin"),
        help="a converted MeTRAbs model folder (default: the committed stand-in; '' skips)",
    )
    args = parser.parse_args()
    if args.write_reference:
        write_reference(REFERENCE)
        return 0
    started = time.perf_counter()
    with np.load(REFERENCE) as stored:
        reference = dict(stored)
    variants = [
        replace(variant, threads=args.threads)
        for variant in VARIANTS
        if not args.providers or variant.provider in args.providers
    ]
    fp32_outputs: dict[str, dict[str, Any]] = {}
    rows = [check_variant(variant, reference, fp32_outputs, args) for variant in variants]
    loaded = [
        variant for variant, row in zip(variants, rows, strict=True) if "unavailable" not in row
    ]
    metrabs = (
        metrabs_rows(Path(args.metrabs_dir), loaded, reference, args.seconds)
        if args.metrabs_dir
        else {"skipped": "--metrabs-dir ''"}
    )
    report = {
        "environment": environment(),
        "reference": str(REFERENCE.relative_to(REPO)),
        "tolerances": TOLERANCES,
        "rows": rows,
        "metrabs": metrabs,
        "elapsed_s": time.perf_counter() - started,
    }
    args.out.write_text(json.dumps(_jsonable(report), indent=2) + "\n")
    print(json.dumps(report["environment"]))
    print(table(rows))
    print(
        "max Δ: largest absolute difference to onnxruntime CPU over a model's outputs (own "
        "units: crop px, logits, m); skeleton: full model's 33 metric joints vs CPU; "
        f"gain: {NUM_STREAMS} streams through one batcher vs direct calls. "
        f"{report['elapsed_s']:.0f} s; JSON: {args.out}"
    )
    print(metrabs_table(metrabs, _format))
    failed = [row["variant"] for row in rows if row.get("within_tolerance") is False]
    failed += [
        row["variant"] for row in metrabs.get("rows", []) if row.get("within_tolerance") is False
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
