"""The core issue's figures, this checkout against an older commit, in one run.

For each of the two trees: the Python client's import time and what it loads (a fresh
interpreter per run, the two trees alternating), the wheel's top-level packages, and the peak
memory (VmHWM) a ``posecast serve`` process gains from one 12000 x 12000 PNG "bomb" and from
200 of them at once, with the answers counted.

    python benchmarks/bench_core_figures.py --before 68291cc [--runs 5]

The older tree is checked out with ``git worktree`` into a temporary folder and run with this
checkout's interpreter (its dependencies are the same); nothing is installed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
HEAVY_MODULES = ("cv2", "onnxruntime", "scipy", "fastapi", "uvicorn", "torch")
IMPORT_CODE = (
    "import sys, time; start = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - start, len(sys.modules), "
    "','.join(m for m in {heavy!r} if m in sys.modules) or '-')"
)
BOMB_SIDE_PX = 12000
FLOOD_REQUESTS = 200


@dataclass(frozen=True)
class Tree:
    """Where to run (``run_dir``), the sources to build a wheel of, the client module to
    import and the CLI module to serve with."""

    label: str
    run_dir: Path
    source_dir: Path
    client_module: str
    cli_module: str


def png_bomb(side_px: int) -> bytes:
    rows = zlib.compress(b"".join(b"\x00" + bytes(side_px * 3) for _ in range(side_px)), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side_px, side_px, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def import_runs(tree: Tree) -> tuple[float, int, str]:
    """Seconds, module count and heavy modules of one fresh import of the client."""
    code = IMPORT_CODE.format(module=tree.client_module, heavy=HEAVY_MODULES)
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=tree.run_dir, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(output[0]), int(output[1]), output[2]


def wheel_top_level(tree: Tree, out_dir: Path) -> list[str]:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out_dir), "."],
        cwd=tree.source_dir,
        check=True,
        capture_output=True,
    )
    (wheel,) = out_dir.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    return sorted({n.split("/")[0] for n in names if ".dist-info" not in n.split("/")[0]})


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def bomb_figures(tree: Tree, bomb: bytes) -> dict[str, object]:
    """Peak memory growth of a real server under one bomb and a flood of them."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "POSECAST_POSE_MODEL": "lite", "POSECAST_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", tree.cli_module, "serve", "--port", str(port)],
        cwd=tree.run_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        post = _poster(url, bomb)
        base_kib = peak_rss_kib(server.pid)
        single = post(0)
        single_kib = peak_rss_kib(server.pid) - base_kib
        with concurrent.futures.ThreadPoolExecutor(FLOOD_REQUESTS) as pool:
            answers = Counter(pool.map(post, range(FLOOD_REQUESTS)))
        flood_kib = peak_rss_kib(server.pid) - base_kib
        is_ready = httpx.get(url + "/v2/health/ready").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    return {
        "single": single,
        "single_mb": single_kib / 1024,
        "flood": dict(answers),
        "flood_mb": flood_kib / 1024,
        "ready_after": is_ready,
    }


def _poster(url: str, bomb: bytes):
    def post(_: int) -> int | str:
        try:
            response = httpx.post(
                url + "/v1/poses",
                content=bomb,
                headers={"Content-Type": "image/png"},
                timeout=120,
            )
        except httpx.HTTPError as error:
            return type(error).__name__
        return response.status_code

    return post


def _shipped_copy(destination: Path) -> Path:
    """The files git would ship from this checkout: a wheel built in the checkout itself
    would leave a ``build/`` folder there."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            (destination / name).write_bytes((REPO / name).read_bytes())
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the older commit (e.g. 68291cc)")
    parser.add_argument("--runs", type=int, default=5, help="imports per tree (default 5)")
    args = parser.parse_args()
    bomb = png_bomb(BOMB_SIDE_PX)
    with tempfile.TemporaryDirectory() as scratch:
        old = Path(scratch) / "before"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(old), args.before],
            cwd=REPO,
            check=True,
        )
        try:
            copy = _shipped_copy(Path(scratch) / "after")
            trees = [
                Tree(f"before ({args.before})", old, old, "clients.client", "clients.cli"),
                # The installed (editable) package, run from outside the checkout.
                Tree(
                    "after (this checkout)",
                    Path(scratch),
                    copy,
                    "posecast.clients",
                    "posecast.clients.cli",
                ),
            ]
            timings: dict[str, list[tuple[float, int, str]]] = {t.label: [] for t in trees}
            for _ in range(args.runs):
                for tree in trees:
                    timings[tree.label].append(import_runs(tree))
            print(f"{BOMB_SIDE_PX} x {BOMB_SIDE_PX} PNG bomb: {len(bomb)} bytes\n")
            print(
                "| tree | client import (median / min) | modules | heavy modules | wheel "
                "top level | bomb: answer, peak +MB | 200 bombs: answers, peak +MB | ready |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for index, tree in enumerate(trees):
                runs = timings[tree.label]
                seconds = [s for s, _, _ in runs]
                wheel = wheel_top_level(tree, Path(scratch) / f"wheel{index}")
                bombs = bomb_figures(tree, bomb)
                print(
                    f"| {tree.label} | {statistics.median(seconds) * 1e3:.0f} / "
                    f"{min(seconds) * 1e3:.0f} ms | {runs[0][1]} | {runs[0][2]} | "
                    f"{', '.join(wheel)} | {bombs['single']}, +{bombs['single_mb']:.0f} | "
                    f"{bombs['flood']}, +{bombs['flood_mb']:.0f} | {bombs['ready_after']} |"
                )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO)


if __name__ == "__main__":
    main()
