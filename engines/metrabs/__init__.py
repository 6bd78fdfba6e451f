"""MeTRAbs (Sarandi et al.) with the user's own weights: the crop model converted to ONNX by
``tools/convert_metrabs.py``, behind posecast's pose crop contract, in the same detection,
placement and tracking pipeline as BlazePose (docs/metrabs.md).

Usage::

    from posecast.engines.metrabs.estimator import MetrabsConfig, MetrabsEstimator
    from posecast.pipeline.stream import StreamConfig, StreamPipeline

    estimator = MetrabsEstimator.from_model_dir(Path("my-metrabs"), MetrabsConfig())
    pipeline = StreamPipeline(estimator, StreamConfig(skeleton=estimator.default_skeleton))
    frame = pipeline.process(image_rgb, timestamp_s=0.0)
"""
