"""Batches of any size through an engine that runs only some batch sizes.

A TensorRT engine runs batches inside its optimization profile (``min_batch`` to
``max_batch``); CUDA graphs replay only the batch sizes they were captured at. Callers (the
model wrappers, the dynamic batcher) should not have to know: ``infer_in_chunks`` splits a
batch into consecutive chunks of at most ``max_batch`` rows, pads a chunk that is smaller than
the engine takes by repeating its last row, runs each chunk, drops the padding's outputs and
concatenates the rest. Every model posecast ships treats each row on its own (no batch-wide
normalisation), so the result is the one-call result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from posecast.errors import InvalidInputError, ModelError

RunChunk = Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
"""Runs one chunk: named (n, ...) inputs -> named (n, ...) outputs, n a size the engine takes."""


def chunk_bounds(batch_size: int, max_batch: int) -> list[tuple[int, int]]:
    """``(start, stop)`` rows of consecutive chunks of at most ``max_batch`` covering
    ``batch_size`` rows; ``[(0, 0)]`` for an empty batch (one run still gives the outputs'
    shapes)."""
    if max_batch < 1:
        raise InvalidInputError(f"max_batch must be >= 1, got {max_batch}")
    if batch_size == 0:
        return [(0, 0)]
    return [
        (start, min(start + max_batch, batch_size)) for start in range(0, batch_size, max_batch)
    ]


def padded_size(num_rows: int, allowed_sizes: Sequence[int]) -> int:
    """The smallest allowed size (ascending ``allowed_sizes``) that holds ``num_rows``.

    Raises:
        InvalidInputError: more rows than the largest allowed size.
    """
    for size in allowed_sizes:
        if size >= num_rows:
            return size
    raise InvalidInputError(f"{num_rows} rows exceed the largest allowed batch {allowed_sizes[-1]}")


def pad_rows(array: np.ndarray, size: int) -> np.ndarray:
    """``array`` with its last row repeated up to ``size`` rows (zeros if it has none)."""
    missing = size - len(array)
    if missing <= 0:
        return array
    if len(array) == 0:
        return np.zeros((size, *array.shape[1:]), array.dtype)
    return np.concatenate([array, np.repeat(array[-1:], missing, axis=0)])


def infer_in_chunks(
    run_chunk: RunChunk,
    feeds: Mapping[str, np.ndarray],
    max_batch: int,
    min_batch: int = 1,
    allowed_sizes: Sequence[int] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``feeds`` (every input with the same first axis) as chunks the engine takes.

    Args:
        run_chunk: runs one chunk.
        feeds: named inputs, (N, ...) each; N may be anything from 0 up.
        max_batch: the largest batch the engine takes.
        min_batch: the smallest; smaller chunks are padded by repeating their last row.
        allowed_sizes: if given, the only sizes the engine takes (ascending, largest <=
            ``max_batch``); a chunk is padded up to the next one.

    Returns:
        Named (N, ...) outputs, row i from input row i, as one call would give them.

    Raises:
        InvalidInputError: inputs whose first axes differ.
        ModelError: a chunk's outputs that do not have one row per input row.
    """
    sizes = {len(value) for value in feeds.values()}
    if len(sizes) > 1:
        raise InvalidInputError(f"inputs have different batch sizes {sorted(sizes)}")
    batch_size = sizes.pop() if sizes else 0
    pieces: dict[str, list[np.ndarray]] = {}
    for start, stop in chunk_bounds(batch_size, max_batch):
        rows = stop - start
        run_size = max(rows, min_batch)
        if allowed_sizes is not None:
            run_size = padded_size(run_size, allowed_sizes)
        chunk = {name: pad_rows(value[start:stop], run_size) for name, value in feeds.items()}
        outputs = run_chunk(chunk)
        for name, value in outputs.items():
            if len(value) != run_size:
                raise ModelError(f"output {name}: expected {run_size} rows, got {len(value)}")
            pieces.setdefault(name, []).append(np.asarray(value)[:rows])
    return {
        name: parts[0] if len(parts) == 1 else np.concatenate(parts)
        for name, parts in pieces.items()
    }
