"""Service benchmark: N concurrent WebSocket streams of the sample clip against a real
``posecast serve`` process on loopback, next to the in-process pipeline in the same run.

For each N: every stream sends the clip's frames (JPEG, with frame id and capture time) at
its native 10 fps for at most ``--duration`` seconds, then asks the server to finish. Reported:
frames/s answered (all streams), p50/p99 end-to-end latency (send to message received),
drop rate (frames the server dropped to stay real-time), errors, server RSS before and after.
A last row streams as fast as the server takes them (2 frames in flight, no drops). The
in-process row drives one ``StreamPipeline`` directly on the same frames with the same models;
"vs in-process" is frames/s over its frames/s.

    python benchmarks/bench_service.py                       # N = 1, 2, 4; 20 s each
    python benchmarks/bench_service.py --streams 1 2 --duration 10 --model lite
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import httpx

from posecast.clients.client import AsyncPosecastClient
from posecast.engines.images import decode_image
from posecast.pipeline.stream import StreamPipeline
from posecast.service.engines_factory import build_pose_engines
from posecast.service.metrics import ServiceMetrics
from posecast.service.settings import load_settings
from posecast.wire.messages import EndMessage, ErrorMessage, FrameMessage

REPO = Path(__file__).resolve().parent.parent
CLIP = REPO / "samples" / "vtest_excerpt.mp4"
CLIP_FPS = 10.0


@dataclass
class RunResult:
    label: str
    streams: int
    elapsed_s: float = 0.0
    sent: int = 0
    answered: int = 0
    dropped: int = 0
    errors: int = 0
    latencies_s: list[float] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0

    @property
    def frames_per_s(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return 1e3 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def clip_jpegs() -> list[bytes]:
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    capture.release()
    return frames


def in_process(settings: object, jpegs: list[bytes], duration_s: float) -> RunResult:
    """One StreamPipeline as fast as it goes (decode included, as in the service), on the
    service's engines (batchers started and warmed up, as the server's lifespan does)."""

    async def run() -> RunResult:
        engines = build_pose_engines(settings, ServiceMetrics())  # type: ignore[arg-type]
        async with engines:
            pipeline = StreamPipeline(engines.estimator)
            return await asyncio.to_thread(track, pipeline)

    def track(pipeline: StreamPipeline) -> RunResult:
        result = RunResult("in-process (1 pipeline, as fast as possible)", 1)
        start = time.perf_counter()
        for i, data in enumerate(jpegs):
            if time.perf_counter() - start > duration_s:
                break
            sent_s = time.perf_counter()
            pipeline.process(decode_image(data), i / CLIP_FPS)
            result.latencies_s.append(time.perf_counter() - sent_s)
            result.sent += 1
            result.answered += 1
        result.elapsed_s = time.perf_counter() - start
        return result

    return asyncio.run(run())


async def one_stream(
    url: str, jpegs: list[bytes], duration_s: float, realtime: bool, result: RunResult
) -> None:
    sent_at: dict[int, float] = {}
    window = asyncio.Semaphore(2)
    async with AsyncPosecastClient(url) as client:
        stream = await client.stream(stream="bench")
        async with stream:

            async def send() -> None:
                start = time.perf_counter()
                for i, data in enumerate(jpegs):
                    due_s = start + i / CLIP_FPS
                    if due_s - start > duration_s:
                        break
                    if realtime:
                        await asyncio.sleep(max(0.0, due_s - time.perf_counter()))
                    else:
                        if time.perf_counter() - start > duration_s:
                            break
                        await window.acquire()
                    sent_at[i] = time.perf_counter()
                    await stream.send(data, frame_id=i, timestamp_s=i / CLIP_FPS)
                    result.sent += 1
                await stream.request_end()

            sender = asyncio.create_task(send())
            while True:
                message = await stream.recv()
                now = time.perf_counter()
                if isinstance(message, FrameMessage):
                    result.answered += 1
                    result.dropped += message.dropped_frames
                    assert message.client_frame_id is not None
                    result.latencies_s.append(now - sent_at[message.client_frame_id])
                    for _ in range(1 + message.dropped_frames):
                        window.release()
                elif isinstance(message, ErrorMessage):
                    result.errors += 1
                    window.release()
                elif isinstance(message, EndMessage):
                    result.dropped += message.dropped_frames
                    break
            await sender


def server_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_streams(
    url: str, pid: int, jpegs: list[bytes], count: int, duration_s: float, realtime: bool
) -> RunResult:
    label = f"{count} stream{'s' * (count > 1)} at {CLIP_FPS:g} fps"
    if not realtime:
        label = f"{count} stream, as fast as served (2 in flight)"
    result = RunResult(label, count, rss_before_mb=server_rss_mb(pid))

    async def run() -> None:
        start = time.perf_counter()
        outcomes = await asyncio.gather(
            *(one_stream(url, jpegs, duration_s, realtime, result) for _ in range(count)),
            return_exceptions=True,
        )
        result.elapsed_s = time.perf_counter() - start
        result.errors += sum(isinstance(outcome, BaseException) for outcome in outcomes)

    asyncio.run(run())
    result.rss_after_mb = server_rss_mb(pid)
    return result


def start_server(model: str, threads: int, max_streams: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "POSECAST_POSE_MODEL": model,
        "POSECAST_THREADS": str(threads),
        "POSECAST_MAX_STREAMS": str(max_streams),
    }
    command = [sys.executable, "-m", "posecast.clients.commands.serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"], cwd=REPO, env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited during startup")
        try:
            if httpx.get(url + "/v2/health/ready").status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("server not ready within 60 s")


def table(results: list[RunResult], baseline_fps: float) -> str:
    lines = [
        "| run | frames sent | answered | frames/s | vs in-process | drop rate "
        "| p50 latency ms | p99 latency ms | errors | server RSS MB (before -> after) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        drop_rate = r.dropped / r.sent if r.sent else 0.0
        rss = "-" if not r.rss_before_mb else f"{r.rss_before_mb:.0f} -> {r.rss_after_mb:.0f}"
        lines.append(
            f"| {r.label} | {r.sent} | {r.answered} | {r.frames_per_s:.2f} "
            f"| {r.frames_per_s / baseline_fps:.2f} | {100 * drop_rate:.0f} % "
            f"| {r.percentile_ms(0.5):.0f} | {r.percentile_ms(0.99):.0f} | {r.errors} | {rss} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run (max)")
    parser.add_argument("--model", choices=("lite", "full", "heavy"), default="full")
    parser.add_argument("--threads", type=int, default=2, help="threads per model run")
    args = parser.parse_args()
    jpegs = clip_jpegs()
    duration_s = min(args.duration, len(jpegs) / CLIP_FPS)
    settings = load_settings(pose_model=args.model, threads=args.threads)

    baseline = in_process(settings, jpegs, duration_s)
    process, url = start_server(args.model, args.threads, max(args.streams))
    try:
        results = [
            run_streams(url, process.pid, jpegs, count, duration_s, realtime=True)
            for count in args.streams
        ]
        results.append(run_streams(url, process.pid, jpegs, 1, duration_s, realtime=False))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)

    print(
        f"clip {CLIP.name}: {len(jpegs)} frames, 768 x 576, {CLIP_FPS:g} fps; model "
        f"{args.model}, {args.threads} threads per run, {os.cpu_count()} CPUs; "
        f"{duration_s:g} s per run\n"
    )
    print(table([baseline, *results], baseline.frames_per_s))
    best = max(r.frames_per_s for r in results)
    ratio = best / baseline.frames_per_s
    print(f"\nservice throughput / in-process throughput (best run): {ratio:.2f}")
    print(f"\ncommand: python benchmarks/{Path(__file__).name} " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
