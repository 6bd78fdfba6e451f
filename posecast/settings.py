"""Numeric settings with documented bounds: one declaration drives every check of a value.

A config dataclass declares each tunable number with ``setting(default, help, ge=..., le=...)``
and calls ``check_settings(self)`` in ``__post_init__``; the wire schema
(``posecast.wire.protocol``) and the command line (``posecast.clients.options``) build their
fields from the same declarations, so a value refused in one place is refused everywhere and
none can be absurd (``confirm_hits: 10**12``, ``searching_timeout_s: 1e300``). Imports nothing
but the standard library.
"""

from __future__ import annotations

import math
from dataclasses import Field, dataclass, field, fields
from typing import Any

from posecast.errors import InvalidInputError

MIN_PERSON_HEIGHT_PX_RANGE = (8.0, 4000.0)
"""Bounds of a stream's or the service's ``min_person_height_px`` (frame pixels)."""


@dataclass(frozen=True)
class Bounds:
    """Allowed range of a number: ``gt`` exclusive, ``ge`` and ``le`` inclusive; None: open."""

    gt: float | None = None
    ge: float | None = None
    le: float | None = None

    def describe(self) -> str:
        parts = []
        if self.gt is not None:
            parts.append(f"> {self.gt:g}")
        if self.ge is not None:
            parts.append(f">= {self.ge:g}")
        if self.le is not None:
            parts.append(f"<= {self.le:g}")
        return " and ".join(parts) or "finite"

    def contains(self, value: float) -> bool:
        return (
            math.isfinite(value)
            and (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.le is None or value <= self.le)
        )


def setting(
    default: Any,
    help: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
) -> Any:
    """A dataclass field holding a bounded number (or a bool, with no bounds) and its help."""
    return field(default=default, metadata={"help": help, "bounds": Bounds(gt, ge, le)})


def bounded_fields(config_type: type) -> list[Field[Any]]:
    """The fields of a dataclass declared with ``setting``, in declaration order."""
    return [f for f in fields(config_type) if "bounds" in f.metadata]


def check_settings(config: object) -> None:
    """Check every ``setting`` field of a dataclass instance: type and bounds.

    Raises:
        InvalidInputError: a value of the wrong type, not finite, or out of its bounds.
    """
    for spec in bounded_fields(type(config)):
        value = getattr(config, spec.name)
        is_flag = isinstance(spec.default, bool)
        if is_flag:
            if not isinstance(value, bool):
                raise InvalidInputError(f"{spec.name} must be true or false, got {value!r}")
            continue
        is_integer = isinstance(spec.default, int)
        valid_types = (int,) if is_integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, valid_types):
            kind = "an integer" if is_integer else "a number"
            raise InvalidInputError(f"{spec.name} must be {kind}, got {value!r}")
        bounds: Bounds = spec.metadata["bounds"]
        try:
            is_inside = bounds.contains(float(value))
        except OverflowError:  # an int beyond any float
            is_inside = False
        if not is_inside:
            raise InvalidInputError(f"{spec.name} must be {bounds.describe()}, got {value!r}")
