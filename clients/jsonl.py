"""JSONL files of per-frame messages: one ``FrameMessage`` per line.

Reading names the file and line of anything malformed; writing flushes every line, so an
interrupted run leaves a valid JSONL file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from posecast.errors import InvalidInputError
from posecast.wire.messages import FrameMessage


def read_frame_messages(path: str | Path) -> Iterator[tuple[int, FrameMessage]]:
    """Yield (line number, message) for every non-blank line, lazily.

    Raises:
        InvalidInputError: the file cannot be read, or a line is not a valid frame message
            (the message names ``path:line``).
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as file:
            for line_number, line in enumerate(file, start=1):
                if line.strip():
                    yield line_number, _parse_line(line, path, line_number)
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"cannot read {path}: {error}") from error


def _parse_line(line: str, path: Path, line_number: int) -> FrameMessage:
    try:
        return FrameMessage.model_validate_json(line)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "line"
        raise InvalidInputError(
            f"{path}:{line_number}: not a valid frame message: {where}: {first['msg']}"
            + (f" (and {error.error_count() - 1} more errors)" if error.error_count() > 1 else "")
        ) from error


class FrameMessageWriter:
    """Writes one flushed JSON line per message."""

    def __init__(self, file: TextIO) -> None:
        self._file = file

    def write(self, message: FrameMessage) -> None:
        self._file.write(message.model_dump_json() + "\n")
        self._file.flush()


@contextmanager
def frame_message_writer(path: str | Path) -> Iterator[FrameMessageWriter]:
    """Open ``path`` for writing (truncating it) and yield a writer.

    Raises:
        InvalidInputError: the file cannot be opened.
    """
    path = Path(path)
    try:
        file = path.open("w", encoding="utf-8")
    except OSError as error:
        raise InvalidInputError(f"cannot write {path}: {error}") from error
    with file:
        yield FrameMessageWriter(file)
