"""The per-frame pipeline: detect, pose, place, track; synchronous, no web code.

``stream``: one stream's pipeline (``StreamPipeline``: frames in, tracked skeletons out) and
its settings (``StreamConfig``). ``wire``: conversion between the pipeline's records and the
wire schema (``posecast.wire``). The CLI runs it directly; the service runs the same pipeline
on worker threads, with the models behind dynamic batchers.

Usage::

    from posecast.engines.estimator import PoseEstimator
    from posecast.pipeline.stream import StreamConfig, StreamPipeline

    pipeline = StreamPipeline(PoseEstimator.from_config(), StreamConfig(skeleton="smpl_24"))
    for index, image_rgb in enumerate(frames):
        tracked = pipeline.process(image_rgb, timestamp_s=index / 10)
        tracked.poses.track_ids, tracked.poses.joints_cam_m  # (N,), (N, 24, 3) metres
"""
