"""TensorRT: the parts that run without a GPU (cache key, engine cache, EP settings), and GPU
tests that skip cleanly here."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from posecast.engines.assets import model_path
from posecast.engines.runtimes import BatchProfile, RuntimeOptions, TensorSpec, create_runtime
from posecast.engines.runtimes.engine_cache import (
    CODE_VERSION,
    EngineCache,
    EngineCacheKey,
    default_engine_cache_dir,
    engine_cache_dir,
    load_or_build,
    timing_cache_path,
    write_atomic,
)
from posecast.engines.runtimes.onnx import tensorrt_ep_options
from posecast.engines.runtimes.tensorrt import engine_cache_key, trt_logger
from posecast.errors import InvalidInputError, ModelError, ProviderUnavailableError


def _has_cuda_tensorrt() -> bool:
    if importlib.util.find_spec("tensorrt") is None or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


requires_gpu = pytest.mark.skipif(
    not _has_cuda_tensorrt(), reason="needs a CUDA GPU with tensorrt and torch installed"
)

KEY = EngineCacheKey(
    model_sha256="ab" * 32,
    tensorrt_version="10.3.0",
    gpu_name="NVIDIA GeForce RTX 3090",
    compute_capability=(8, 6),
    precision="fp16",
    profile=BatchProfile(1, 8, 16),
    item_shapes=(("image", (288, 384, 3)),),
    workspace_bytes=1 << 30,
    builder_flags=("FP16",),
)


KEY_CHANGES = [
    ("model_sha256", "cd" * 32),  # another model
    ("tensorrt_version", "10.4.0"),  # engines do not carry over TensorRT versions
    ("gpu_name", "NVIDIA A100"),  # nor GPU models
    ("compute_capability", (8, 0)),
    ("precision", "fp32"),
    ("profile", BatchProfile(1, 8, 32)),  # a wider profile is another engine
    ("profile", BatchProfile(1, 16, 16)),  # so is another opt batch
    ("profile", BatchProfile(2, 8, 16)),  # and another min batch
    ("item_shapes", (("image", (544, 960, 3)),)),  # another detector input size
    ("item_shapes", ()),
    ("workspace_bytes", 1 << 31),  # the workspace changes the tactics
    ("builder_flags", ()),  # FP16 flag off
    ("builder_flags", ("FP16", "TF32")),
    ("code_version", "posecast-0.2.0+engine-recipe-2"),  # other building code
]


@pytest.mark.parametrize("field, value", KEY_CHANGES)
def test_every_key_field_changes_the_engine_path(field, value, tmp_path) -> None:
    other = dataclasses.replace(KEY, **{field: value})
    assert other.engine_path(tmp_path, "m") != KEY.engine_path(tmp_path, "m")


def test_every_key_field_is_in_the_table_above() -> None:
    fields = {item.name for item in dataclasses.fields(EngineCacheKey)}
    assert fields == {field for field, _ in KEY_CHANGES}


def test_equal_keys_give_equal_paths(tmp_path) -> None:
    twin = dataclasses.replace(KEY)
    assert twin.engine_path(tmp_path, "pose") == KEY.engine_path(tmp_path, "pose")
    assert KEY.engine_path(tmp_path, "pose").name.startswith("pose-fp16-")
    assert KEY.code_version == CODE_VERSION


OPTIONS = RuntimeOptions(provider="tensorrt", profile=BatchProfile(1, 8, 16))


@pytest.mark.parametrize(
    "change",
    [
        {"fp16": True},
        {"profile": BatchProfile(1, 8, 32)},
        {"profile": BatchProfile(1, 4, 16)},
        {"item_shapes": (("image", (288, 384, 3)),)},
    ],
)
def test_every_build_setting_of_the_options_changes_the_key(change) -> None:
    """What ``build_engine`` reads from the options reaches the key."""
    base = engine_cache_key("ab" * 32, OPTIONS, "10.3.0", "GPU", (8, 6))
    changed = engine_cache_key(
        "ab" * 32, dataclasses.replace(OPTIONS, **change), "10.3.0", "GPU", (8, 6)
    )
    assert changed.digest() != base.digest()


def test_settings_that_do_not_change_the_engine_keep_the_key() -> None:
    base = engine_cache_key("ab" * 32, OPTIONS, "10.3.0", "GPU", (8, 6))
    same = dataclasses.replace(OPTIONS, intra_op_threads=4, engine_cache_dir=Path("/elsewhere"))
    assert engine_cache_key("ab" * 32, same, "10.3.0", "GPU", (8, 6)) == base


def test_fp16_sets_the_builder_flag_in_the_key() -> None:
    key = engine_cache_key("ab" * 32, dataclasses.replace(OPTIONS, fp16=True), "10", "G", (9, 0))
    assert key.precision == "fp16" and key.builder_flags == ("FP16",)


class FakeTensorRT:
    """Counts builds; 'deserialises' only bytes that start with the engine magic."""

    MAGIC = b"ENGINE:"

    def __init__(self) -> None:
        self.builds = 0

    def build(self) -> bytes:
        self.builds += 1
        return self.MAGIC + bytes(range(256)) * 64

    def deserialize(self, data: bytes) -> tuple[str, int] | None:
        if not data.startswith(self.MAGIC) or len(data) != len(self.MAGIC) + 256 * 64:
            return None
        return ("engine", len(data))


def _load(cache: EngineCache, fake: FakeTensorRT) -> tuple[str, int]:
    return load_or_build(cache, KEY, "pose", fake.build, fake.deserialize)


def test_a_built_engine_is_cached_and_reused(tmp_path) -> None:
    cache, fake = EngineCache(tmp_path), FakeTensorRT()
    first = _load(cache, fake)
    second = _load(cache, fake)
    assert first == second and fake.builds == 1
    sidecar = json.loads(cache.engine_path(KEY, "pose").with_suffix(".json").read_text())
    assert sidecar["digest"] == KEY.digest()
    assert sidecar["key"]["gpu_name"] == "NVIDIA GeForce RTX 3090"
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []


def test_a_truncated_engine_file_is_rebuilt(tmp_path) -> None:
    """A crash or a full disk mid-write (before atomic writes) left half an engine: it must be
    detected (size and SHA-256 against the sidecar), discarded and rebuilt, not loaded."""
    cache, fake = EngineCache(tmp_path), FakeTensorRT()
    _load(cache, fake)
    path = cache.engine_path(KEY, "pose")
    path.write_bytes(path.read_bytes()[:1000])
    assert _load(cache, fake) == ("engine", len(FakeTensorRT.MAGIC) + 256 * 64)
    assert fake.builds == 2
    assert cache.load(KEY, "pose") is not None  # the rebuilt entry is whole again


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.with_suffix(".json").unlink(),  # sidecar missing
        lambda path: path.with_suffix(".json").write_text("{not json"),  # sidecar damaged
        lambda path: path.write_bytes(b"ENGINE:" + b"\0" * 16384),  # same size, other bytes
        lambda path: path.with_suffix(".json").write_text('{"digest": "other"}'),
    ],
)
def test_a_damaged_entry_is_discarded_and_rebuilt(tmp_path, damage) -> None:
    cache, fake = EngineCache(tmp_path), FakeTensorRT()
    _load(cache, fake)
    damage(cache.engine_path(KEY, "pose"))
    _load(cache, fake)
    assert fake.builds == 2


def test_an_engine_the_runtime_rejects_is_rebuilt(tmp_path) -> None:
    """Intact on disk but refused by this TensorRT (e.g. a library update with the same
    version string): discarded and rebuilt."""
    cache, fake = EngineCache(tmp_path), FakeTensorRT()
    bogus = b"not an engine at all"
    cache.store(KEY, "pose", bogus)
    assert _load(cache, fake)[0] == "engine"
    assert fake.builds == 1
    assert cache.load(KEY, "pose") != bogus


def test_a_fresh_engine_that_does_not_deserialise_is_an_error_and_not_cached(tmp_path) -> None:
    cache = EngineCache(tmp_path)
    with pytest.raises(ModelError, match="does not deserialise"):
        load_or_build(cache, KEY, "pose", lambda: b"garbage", lambda data: None)
    assert not cache.engine_path(KEY, "pose").exists()


def test_write_atomic_replaces_whole_files_and_leaves_no_temporaries(tmp_path) -> None:
    path = tmp_path / "sub" / "engine.bin"
    write_atomic(path, b"old")
    write_atomic(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert [entry.name for entry in path.parent.iterdir()] == ["engine.bin"]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "engine.bin"
    write_atomic(path, b"old")

    def disk_full(descriptor: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, b"new contents")
    assert path.read_bytes() == b"old"
    assert [entry.name for entry in tmp_path.iterdir()] == ["engine.bin"]


def test_default_cache_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("POSECAST_ENGINE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_engine_cache_dir() == tmp_path / ".cache" / "posecast" / "engines"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_engine_cache_dir() == tmp_path / "xdg" / "posecast" / "engines"
    monkeypatch.setenv("POSECAST_ENGINE_CACHE_DIR", str(tmp_path / "mine"))
    assert default_engine_cache_dir() == tmp_path / "mine"
    assert engine_cache_dir(RuntimeOptions()) == tmp_path / "mine"
    explicit = RuntimeOptions(engine_cache_dir=tmp_path / "explicit")
    assert engine_cache_dir(explicit) == tmp_path / "explicit"


def test_timing_cache_is_per_version_and_gpu(tmp_path) -> None:
    first = timing_cache_path(tmp_path, "10.3.0", "NVIDIA GeForce RTX 3090")
    assert first != timing_cache_path(tmp_path, "10.3.0", "NVIDIA A100")
    assert first != timing_cache_path(tmp_path, "10.4.0", "NVIDIA GeForce RTX 3090")
    assert " " not in first.name


@pytest.mark.parametrize(
    "profile, batch, fits",
    [
        (BatchProfile(1, 8, 16), 1, True),
        (BatchProfile(1, 8, 16), 16, True),
        (BatchProfile(1, 8, 16), 17, False),  # above max: runtimes run it in chunks
        (BatchProfile(2, 8, 16), 1, False),  # below min: runtimes pad it
    ],
)
def test_profile_batch_check(profile, batch, fits) -> None:
    if fits:
        profile.check_batch(batch)
    else:
        with pytest.raises(InvalidInputError, match="outside the engine profile"):
            profile.check_batch(batch)


@pytest.mark.parametrize("sizes", [(0, 1, 2), (4, 2, 8), (1, 9, 8)])
def test_invalid_profiles_are_rejected(sizes) -> None:
    with pytest.raises(ValueError, match="min <= opt <= max"):
        BatchProfile(*sizes)


@pytest.mark.parametrize("max_batch", [1, 8, 64, 1024])
def test_batcher_profile_covers_every_batch_the_batcher_sends(max_batch) -> None:
    profile = BatchProfile.for_batcher(max_batch)
    assert (profile.min_batch, profile.max_batch) == (1, max_batch)


def test_tensor_spec_shape_check() -> None:
    spec = TensorSpec("image", (None, 256, 256, 3), np.dtype(np.float32))
    spec.check(np.zeros((5, 256, 256, 3), np.float32))
    with pytest.raises(InvalidInputError, match=r"\(None, 256, 256, 3\)"):
        spec.check(np.zeros((5, 256, 255, 3), np.float32))


def test_tensorrt_ep_profile_covers_the_batch_range(tmp_path) -> None:
    options = RuntimeOptions(
        provider="tensorrt-ep", fp16=True, engine_cache_dir=tmp_path, profile=BatchProfile(1, 4, 8)
    )
    specs = (TensorSpec("image", (None, 256, 256, 3), np.dtype(np.float32)),)
    settings = tensorrt_ep_options(options, specs, "ab" * 32)
    assert settings["trt_profile_min_shapes"] == "image:1x256x256x3"
    assert settings["trt_profile_opt_shapes"] == "image:4x256x256x3"
    assert settings["trt_profile_max_shapes"] == "image:8x256x256x3"
    assert settings["trt_fp16_enable"] == "true"
    assert Path(settings["trt_engine_cache_path"]).parent == tmp_path / "onnxruntime-trt"


@pytest.mark.parametrize(
    "change",
    [{"fp16": False}, {"profile": BatchProfile(1, 4, 16)}, {"device_id": 1}],
)
def test_tensorrt_ep_cache_folder_changes_with_every_build_setting(tmp_path, change) -> None:
    """The EP names cached engines by the model alone; the folder carries the settings."""
    options = RuntimeOptions(
        provider="tensorrt-ep", fp16=True, engine_cache_dir=tmp_path, profile=BatchProfile(1, 4, 8)
    )
    specs = (TensorSpec("image", (None, 256, 256, 3), np.dtype(np.float32)),)
    base = tensorrt_ep_options(options, specs, "ab" * 32)["trt_engine_cache_path"]
    other = tensorrt_ep_options(dataclasses.replace(options, **change), specs, "ab" * 32)
    assert other["trt_engine_cache_path"] != base
    another_model = tensorrt_ep_options(options, specs, "cd" * 32)
    assert another_model["trt_engine_cache_path"] != base


def test_tensorrt_ep_uses_the_default_cache_without_a_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("POSECAST_ENGINE_CACHE_DIR", str(tmp_path))
    specs = (TensorSpec("image", (None, 256, 256, 3), np.dtype(np.float32)),)
    settings = tensorrt_ep_options(RuntimeOptions(provider="tensorrt-ep"), specs)
    assert settings["trt_engine_cache_enable"] == "true"
    assert Path(settings["trt_engine_cache_path"]).is_relative_to(tmp_path)


@pytest.mark.skipif(_has_cuda_tensorrt(), reason="this machine has the GPU stack")
def test_native_tensorrt_without_gpu_stack_is_a_clear_error() -> None:
    with pytest.raises(ProviderUnavailableError, match="tensorrt"):
        create_runtime(model_path("pose_landmark_lite"), RuntimeOptions(provider="tensorrt"))


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("fp16", [False, True])
def test_native_tensorrt_matches_onnxruntime(tmp_path: Path, fp16: bool) -> None:
    """Not executed yet (no GPU host with TensorRT so far): batches of 1, 8 and 17 (over the
    profile: two chunks) against onnxruntime CPU; the engine is cached, and a truncated cache
    entry is rebuilt on the next load."""
    path = model_path("pose_landmark_lite")
    options = RuntimeOptions(
        provider="tensorrt", fp16=fp16, engine_cache_dir=tmp_path, profile=BatchProfile(1, 4, 8)
    )
    crops = np.random.default_rng(0).random((17, 256, 256, 3), dtype=np.float32)
    with create_runtime(path, options) as trt_runtime, create_runtime(path) as cpu_runtime:
        for size in (1, 8, 17):
            got = trt_runtime.infer({"image": crops[:size]})["landmarks"]
            want = cpu_runtime.infer({"image": crops[:size]})["landmarks"]
            assert np.abs(got - want).max() < (1.0 if fp16 else 0.05)
    (engine,) = tmp_path.glob("*.engine")
    engine.write_bytes(engine.read_bytes()[:1000])
    with create_runtime(path, options) as rebuilt:
        assert rebuilt.infer({"image": crops[:2]})["landmarks"].shape == (2, 195)
    assert os.path.getsize(engine) > 1000


def test_one_tensorrt_logger_per_process() -> None:
    """TensorRT keeps a single logger pointer: every builder and runtime gets the same one."""

    class FakeTensorRT:
        class Logger:
            WARNING = 2
            made = 0

            def __init__(self, severity: int) -> None:
                type(self).made += 1

    first, second = trt_logger(FakeTensorRT), trt_logger(FakeTensorRT)
    assert first is second and FakeTensorRT.Logger.made == 1
