"""Refresh the vendored three.js of the browser viewer from the npm registry.

The viewer (``service/viewer/``, docs/viewer.md) loads three.js as plain ES modules from
``service/viewer/vendor/three/``, so nothing is fetched from a CDN at run time and a pip
install needs no npm. This script replaces those files with the ones of the pinned release:

    python tools/vendor_threejs.py               # the pinned THREE_VERSION
    python tools/vendor_threejs.py --version 0.188.0

It runs ``npm pack three@VERSION`` in a temporary folder (npm and the registry are needed
only here), then copies the two built module files, the addons the page imports (OrbitControls,
the wide lines) and the MIT licence, and
writes ``VERSION``. After a version change: update THREE_VERSION, run the viewer tests
(tests/service/test_viewer.py) and commit the folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

THREE_VERSION = "0.187.0"
VENDOR_DIR = Path(__file__).resolve().parent.parent / "service" / "viewer" / "vendor" / "three"
# package path -> vendored path; three.module.js imports ./three.core.js, the addons import
# "three" (mapped by the page's import map) and each other.
FILES = {
    "build/three.module.js": "three.module.js",
    "build/three.core.js": "three.core.js",
    "examples/jsm/controls/OrbitControls.js": "addons/controls/OrbitControls.js",
    # wide lines (WebGL draws plain lines one pixel wide)
    "examples/jsm/lines/LineMaterial.js": "addons/lines/LineMaterial.js",
    "examples/jsm/lines/LineSegments2.js": "addons/lines/LineSegments2.js",
    "examples/jsm/lines/LineSegmentsGeometry.js": "addons/lines/LineSegmentsGeometry.js",
    "LICENSE": "LICENSE",
}


def vendor_three(version: str, destination: Path) -> None:
    """Download ``three@version`` with npm and copy ``FILES`` into ``destination``."""
    with tempfile.TemporaryDirectory() as temp:
        subprocess.run(
            ["npm", "pack", f"three@{version}", "--silent"],
            cwd=temp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (archive,) = Path(temp).glob("three-*.tgz")
        with tarfile.open(archive) as tar:
            tar.extractall(temp, filter="data")
        package = Path(temp) / "package"
        if destination.exists():
            shutil.rmtree(destination)
        for source, target in FILES.items():
            (destination / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(package / source, destination / target)
    (destination / "VERSION").write_text(f"three@{version} (npm registry; MIT, see LICENSE)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=THREE_VERSION, help="three.js release on npm")
    arguments = parser.parse_args()
    vendor_three(arguments.version, VENDOR_DIR)
    print(f"three@{arguments.version} -> {VENDOR_DIR}")


if __name__ == "__main__":
    main()
