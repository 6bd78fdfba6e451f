"""The GPU image's library wiring, run at build time as root (standard library only).

``link``: every folder of shared libraries that the CUDA and TensorRT wheels install
(``site-packages/nvidia/**/lib``, ``tensorrt_libs``) goes into ``/etc/ld.so.conf.d`` and
``ldconfig`` runs, so onnxruntime-gpu's providers find CUDA, cuDNN, cuBLAS and TensorRT the
way they would on a host with a system CUDA install.

``check``: every library that onnxruntime's CUDA provider (and, with TensorRT, its TensorRT
provider) links resolves inside the image, except ``libcuda.so.1``: the driver, which the
NVIDIA container toolkit mounts from the host at run time. Exits 1 naming what is missing.

    python3 deploy/gpu_libraries.py link
    python3 deploy/gpu_libraries.py check [--tensorrt]
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

CONF = Path("/etc/ld.so.conf.d/posecast-gpu.conf")
DRIVER_LIBRARIES = {"libcuda.so.1", "libnvidia-ml.so.1"}


def library_dirs(site_packages: Path) -> list[Path]:
    roots = [site_packages / "nvidia", site_packages / "tensorrt_libs"]
    found = {lib.parent for root in roots if root.is_dir() for lib in root.rglob("lib*.so*")}
    return sorted(found)


def link(site_packages: Path) -> None:
    dirs = library_dirs(site_packages)
    CONF.write_text("".join(f"{folder}\n" for folder in dirs))
    subprocess.run(["ldconfig"], check=True)
    print(f"{CONF}: {len(dirs)} folders")


def missing_libraries(library: Path) -> set[str]:
    output = subprocess.run(["ldd", str(library)], capture_output=True, text=True).stdout
    return {line.split()[0] for line in output.splitlines() if "not found" in line}


def check(site_packages: Path, with_tensorrt: bool) -> int:
    capi = site_packages / "onnxruntime" / "capi"
    providers = ["cuda", "tensorrt"] if with_tensorrt else ["cuda"]
    problems = []
    for provider in providers:
        library = capi / f"libonnxruntime_providers_{provider}.so"
        missing = missing_libraries(library) - DRIVER_LIBRARIES
        print(f"{library.name}: {'all libraries resolve' if not missing else sorted(missing)}")
        if missing:
            problems.append(provider)
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    site_packages = Path(sysconfig.get_paths()["purelib"])
    if argv[:1] == ["link"]:
        link(site_packages)
        return 0
    if argv[:1] == ["check"]:
        return check(site_packages, "--tensorrt" in argv)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
