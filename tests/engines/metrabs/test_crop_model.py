"""The converted stand-in crop model: loading, the contract, batch independence, and what the
GPU runtimes would do with it (profiles, chunks, engine cache keys), checked on the CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from posecast.engines.assets import file_sha256, read_manifest
from posecast.engines.metrabs.crop_model import MetrabsCropModel
from posecast.engines.metrabs.estimator import load_metrabs_crop_model
from posecast.engines.metrabs.metadata import MetrabsMetadata
from posecast.engines.runtimes import BatchProfile, RuntimeOptions
from posecast.engines.runtimes.chunking import infer_in_chunks
from posecast.engines.runtimes.onnx import tensorrt_ep_options
from posecast.engines.runtimes.tensorrt import engine_cache_key
from posecast.errors import InvalidInputError, ModelError

SIZE = 256


def _crops(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    crops = rng.uniform(0, 1, (count, SIZE, SIZE, 3)).astype(np.float32)
    K = np.tile(np.array([[800.0, 0, 128], [0, 800, 128], [0, 0, 1]]), (count, 1, 1))
    K[:, 0, 0] = K[:, 1, 1] = rng.uniform(400, 2000, count)
    return crops, K


def test_the_standin_loads_with_its_metadata(standin_crop_model: MetrabsCropModel) -> None:
    metadata = standin_crop_model.metadata
    assert (metadata.input_size_px, metadata.num_joints, metadata.num_points) == (SIZE, 42, 42)
    assert metadata.mix_3d_inside_fov == 0.5 and metadata.box_size_m == 2.2
    assert {s.name for s in metadata.skeletons} == {"coco_19", "h36m_17", "smpl+head_30", "smpl_24"}


def test_the_contract_shapes(standin_crop_model: MetrabsCropModel, rng) -> None:
    crops, K = _crops(rng, 3)
    poses = standin_crop_model.predict(crops, K)
    assert poses.joints2d_crop_px.shape == (3, 42, 2)
    assert poses.joints_crop_m.shape == (3, 42, 3)
    assert poses.joint_scores.shape == (3, 42) and poses.is_valid.all()
    assert np.all((poses.joint_scores > 0) & (poses.joint_scores <= 1))
    assert np.all(poses.joints_crop_m[..., 2] > 0)
    np.testing.assert_allclose(poses.root_relative(0)[:, 0], 0.0)
    no_crops = np.zeros((0, SIZE, SIZE, 3), np.float32)
    empty = standin_crop_model.predict(no_crops, np.zeros((0, 3, 3)))
    assert len(empty) == 0


def test_results_do_not_depend_on_the_batch(standin_crop_model: MetrabsCropModel, rng) -> None:
    """Each crop alone, in a batch, and in another order gives bitwise the same pose."""
    crops, K = _crops(rng, 7)
    together = standin_crop_model.predict(crops, K)
    order = rng.permutation(7)
    shuffled = standin_crop_model.predict(crops[order], K[order])
    np.testing.assert_array_equal(shuffled.joints_crop_m, together.joints_crop_m[order])
    for index in (0, 4):
        alone = standin_crop_model.predict(crops[index : index + 1], K[index : index + 1])
        np.testing.assert_array_equal(alone.joints_crop_m[0], together.joints_crop_m[index])


@pytest.mark.parametrize("batch_size", [1, 4, 5, 9])
def test_profile_chunks_give_the_one_call_result(standin_crop_model, rng, batch_size) -> None:
    """What TensorRT's runtimes do with a profile of max 4 (chunks, padding), here on CPU."""
    crops, _ = _crops(rng, batch_size)
    runtime = standin_crop_model.runtime
    whole = runtime.infer({"image": crops})
    chunked = infer_in_chunks(runtime.infer, {"image": crops}, max_batch=4, min_batch=2)
    for name, value in whole.items():
        np.testing.assert_array_equal(chunked[name], value)


def test_tensorrt_settings_of_the_converted_model(
    standin_crop_model, standin_dir, tmp_path
) -> None:
    specs = standin_crop_model.runtime.inputs
    sha = read_manifest(standin_dir)["metrabs"]["sha256"]
    options = RuntimeOptions(
        provider="tensorrt-ep", fp16=True, engine_cache_dir=tmp_path, profile=BatchProfile(1, 8, 8)
    )
    settings = tensorrt_ep_options(options, specs, sha)
    assert settings["trt_profile_min_shapes"] == "image:1x256x256x3"
    assert settings["trt_profile_max_shapes"] == "image:8x256x256x3"
    assert settings["trt_fp16_enable"] == "true"
    fp16 = engine_cache_key(sha, options, "10.0", "H200", (9, 0))
    fp32_options = RuntimeOptions(profile=BatchProfile(1, 8, 8))
    fp32 = engine_cache_key(sha, fp32_options, "10.0", "H200", (9, 0))
    assert fp16.precision == "fp16" and fp32.precision == "fp32" and fp16.digest() != fp32.digest()


def test_crops_must_have_the_model_size(standin_crop_model: MetrabsCropModel) -> None:
    with pytest.raises(InvalidInputError, match=r"\(M, 256, 256, 3\) float32"):
        standin_crop_model.run(np.zeros((1, 128, 128, 3), np.float32))
    with pytest.raises(InvalidInputError, match="float32"):
        standin_crop_model.run(np.zeros((1, SIZE, SIZE, 3), np.uint8))
    with pytest.raises(InvalidInputError, match="K_crop"):
        standin_crop_model.predict(np.zeros((2, SIZE, SIZE, 3), np.float32), np.eye(3)[None])


def test_metadata_of_another_conversion_is_refused(standin_crop_model) -> None:
    data = standin_crop_model.metadata.to_dict()
    data["input_size_px"] = 384
    with pytest.raises(ModelError, match="expected tensor image"):
        MetrabsCropModel(standin_crop_model.runtime, MetrabsMetadata.from_dict(data))


def _copy(standin_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(standin_dir, target)
    return target


def test_a_changed_metadata_file_is_refused(standin_dir: Path, tmp_path: Path) -> None:
    model_dir = _copy(standin_dir, tmp_path)
    metadata = json.loads((model_dir / "metrabs.json").read_text())
    metadata["decoding"]["mix_3d_inside_fov"] = 1.0
    (model_dir / "metrabs.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match="does not match the manifest"):
        load_metrabs_crop_model(model_dir)


def test_a_folder_without_a_converted_model_names_the_tool(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"tools/convert_metrabs\.py"):
        load_metrabs_crop_model(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other"}, "expected format"),
        ({"points_to_joints": [[0.5] * 42] * 41}, "41 rows for 42 joints"),
        ({"input_size_px": "large"}, "malformed"),
    ],
)
def test_malformed_metadata_is_a_model_error(standin_crop_model, change, message) -> None:
    data = standin_crop_model.metadata.to_dict() | change
    with pytest.raises(ModelError, match=message):
        MetrabsMetadata.from_dict(data)


def test_the_manifest_records_the_fixture(standin_dir: Path) -> None:
    entry = read_manifest(standin_dir)["metrabs"]
    assert entry["sha256"] == file_sha256(standin_dir / "metrabs.onnx")
    assert "stand-in" in entry["licence"]
    assert entry["decoding_fit"]["residual_mm"] < entry["decoding_fit"]["tolerance_mm"]
