"""Batches of any size through engines that take only some sizes: the same outputs as one call."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from posecast.engines.assets import model_path
from posecast.engines.runtimes import RuntimeOptions, create_runtime
from posecast.engines.runtimes.chunking import (
    chunk_bounds,
    infer_in_chunks,
    pad_rows,
    padded_size,
)
from posecast.errors import InvalidInputError, ModelError


@pytest.mark.parametrize(
    "batch_size, max_batch, bounds",
    [
        (0, 16, [(0, 0)]),  # empty: one run on padding gives the outputs' shapes
        (1, 16, [(0, 1)]),
        (16, 16, [(0, 16)]),  # exactly the profile
        (17, 16, [(0, 16), (16, 17)]),  # one over: a chunk of one
        (33, 16, [(0, 16), (16, 32), (32, 33)]),
        (5, 1, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]),  # batching off
    ],
)
def test_chunk_bounds(batch_size, max_batch, bounds) -> None:
    assert chunk_bounds(batch_size, max_batch) == bounds


@pytest.mark.parametrize(
    "rows, sizes, padded",
    [
        (1, (1, 2, 4, 8), 1),
        (3, (1, 2, 4, 8), 4),
        (8, (1, 2, 4, 8), 8),
        (5, (4, 16), 16),
    ],
)
def test_padded_size(rows, sizes, padded) -> None:
    assert padded_size(rows, sizes) == padded


def test_padded_size_beyond_the_largest_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="exceed"):
        padded_size(9, (1, 8))


def test_pad_rows_repeats_the_last_row_or_fills_zeros() -> None:
    rows = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(pad_rows(rows, 4), [[0, 1, 2], [3, 4, 5], [3, 4, 5], [3, 4, 5]])
    assert pad_rows(rows, 2) is rows
    np.testing.assert_array_equal(pad_rows(rows[:0], 2), np.zeros((2, 3)))


class RowwiseEngine:
    """A fake engine that takes only some batch sizes and computes each row on its own."""

    def __init__(self, min_batch: int, max_batch: int) -> None:
        self.min_batch, self.max_batch = min_batch, max_batch
        self.run_sizes: list[int] = []

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        size = len(feeds["x"])
        assert self.min_batch <= size <= self.max_batch, f"batch {size} outside the profile"
        self.run_sizes.append(size)
        x = feeds["x"]
        return {"sum": x.sum(axis=1), "twice": 2 * x, "first": x[:, :1] + feeds["y"]}


@pytest.mark.parametrize("batch_size", [0, 1, 2, 15, 16, 17, 33, 64])
@pytest.mark.parametrize("min_batch", [1, 4])
def test_chunked_outputs_equal_one_call(batch_size, min_batch) -> None:
    rng = np.random.default_rng(batch_size)
    feeds = {
        "x": rng.random((batch_size, 5), dtype=np.float32),
        "y": rng.random((batch_size, 1), dtype=np.float32),
    }
    engine = RowwiseEngine(min_batch, 16)
    chunked = infer_in_chunks(engine.run, feeds, 16, min_batch)
    whole = RowwiseEngine(0, 10**6).run(feeds)
    assert set(chunked) == set(whole)
    for name, value in whole.items():
        assert chunked[name].shape == value.shape
        np.testing.assert_array_equal(chunked[name], value)
    assert max(engine.run_sizes) <= 16 and min(engine.run_sizes) >= min_batch


def test_allowed_sizes_pad_each_chunk_up() -> None:
    engine = RowwiseEngine(1, 8)
    feeds = {"x": np.ones((11, 2), np.float32), "y": np.ones((11, 1), np.float32)}
    outputs = infer_in_chunks(engine.run, feeds, 8, allowed_sizes=(1, 2, 4, 8))
    assert engine.run_sizes == [8, 4]  # 8 + 3 rows, the 3 padded to 4
    assert outputs["sum"].shape == (11,)


def test_inputs_with_different_batch_sizes_are_an_error() -> None:
    engine = RowwiseEngine(1, 16)
    feeds = {"x": np.ones((3, 2), np.float32), "y": np.ones((2, 1), np.float32)}
    with pytest.raises(InvalidInputError, match="different batch sizes"):
        infer_in_chunks(engine.run, feeds, 16)


def test_an_engine_returning_the_wrong_row_count_is_a_model_error() -> None:
    def broken(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"out": feeds["x"][:-1]}

    with pytest.raises(ModelError, match="expected 3 rows, got 2"):
        infer_in_chunks(broken, {"x": np.ones((3, 2))}, 16)


@pytest.fixture(scope="module")
def lite_runtime():
    options = RuntimeOptions(provider="cpu", intra_op_threads=2)
    with create_runtime(model_path("pose_landmark_lite"), options) as runtime:
        yield runtime


@pytest.mark.parametrize("batch_size", [1, 16, 17, 33])
def test_a_real_model_in_chunks_of_16_matches_one_call(lite_runtime, batch_size) -> None:
    """The shipped landmark model treats each crop on its own: chunks of at most 16 (the
    default TensorRT profile) give one call's outputs (onnxruntime CPU, equal up to the
    summation order of batched kernels)."""
    crops = np.random.default_rng(batch_size).random((batch_size, 256, 256, 3), dtype=np.float32)
    seen: list[int] = []

    def run_chunk(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        seen.append(len(feeds["image"]))
        return lite_runtime.infer(feeds)

    chunked = infer_in_chunks(run_chunk, {"image": crops}, max_batch=16)
    whole = lite_runtime.infer({"image": crops})
    assert max(seen) <= 16 and sum(seen) == batch_size
    for name, value in whole.items():
        np.testing.assert_allclose(chunked[name], value, rtol=0, atol=1e-4)
