"""The requirement lines an image installs, read from pyproject.toml (standard library only).

The images install what CI installs: the project's own dependencies from pyproject.toml, the
same list ``pip install .`` resolves, never a second hand-kept list, plus the ``triton``
extra (the gRPC client of the ``triton`` runtime), so every image can be a Triton front end.
The GPU image swaps onnxruntime for the gpu extra, with the pinned, mutually consistent GPU
stack of ``deploy/requirements-gpu.txt`` (one CUDA major version for torch, onnxruntime-gpu
and TensorRT). ``tests/deploy/test_deploy_config.py`` checks the two stay in sync.

    python3 deploy/requirements.py cpu
    python3 deploy/requirements.py gpu [--without-tensorrt]
    python3 deploy/requirements.py gpu-stack [--without-tensorrt]   # the pins alone
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
GPU_PINS = DEPLOY / "requirements-gpu.txt"

PROVIDES = {"tensorrt-cu13": "tensorrt", "tensorrt-cu12": "tensorrt"}
"""Pinned distribution -> the gpu extra's name it stands for (TensorRT's per-CUDA wheels)."""


def requirement_name(line: str) -> str:
    """The normalised distribution name of a requirement line (PEP 503)."""
    name = re.split(r"[\s\[<>=!~;@]", line.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pyproject(root: Path) -> dict:
    with open(root / "pyproject.toml", "rb") as stream:
        return tomllib.load(stream)["project"]


def gpu_pins(path: Path = GPU_PINS) -> list[str]:
    """The pinned GPU stack: requirement lines without comments."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def gpu_stack(with_tensorrt: bool = True) -> list[str]:
    """The pinned GPU stack (the GPU image's first, largest layer), TensorRT optional."""
    return [
        pin
        for pin in gpu_pins()
        if with_tensorrt or PROVIDES.get(requirement_name(pin)) != "tensorrt"
    ]


def image_requirements(flavour: str, root: Path, with_tensorrt: bool = True) -> list[str]:
    """Requirement lines for the ``cpu`` or ``gpu`` image (the project itself excluded).

    cpu: ``project.dependencies`` and the triton extra. gpu: the same without onnxruntime
    (onnxruntime-gpu installs the same Python package), plus the gpu extra as pinned in
    requirements-gpu.txt.
    """
    project = read_pyproject(root)
    dependencies = [*project["dependencies"], *project["optional-dependencies"]["triton"]]
    if flavour == "cpu":
        return dependencies
    if flavour != "gpu":
        raise ValueError(f"unknown image flavour {flavour!r}; cpu or gpu")
    kept = [dep for dep in dependencies if requirement_name(dep) != "onnxruntime"]
    return kept + gpu_stack(with_tensorrt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flavour", choices=("cpu", "gpu", "gpu-stack"))
    parser.add_argument("--without-tensorrt", action="store_true")
    parser.add_argument("--root", type=Path, default=DEPLOY.parent)
    args = parser.parse_args(argv)
    with_tensorrt = not args.without_tensorrt
    if args.flavour == "gpu-stack":
        lines = gpu_stack(with_tensorrt)
    else:
        lines = image_requirements(args.flavour, args.root, with_tensorrt)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
