"""posecast engines: everything that turns one frame into per-person metric 3D skeletons.

Runtimes (onnxruntime, TensorRT), model wrappers (person detector, BlazePose landmark model),
camera geometry (crops, intrinsics, absolute reconstruction, skeleton formats), and the
dynamic batcher. Importing this package is cheap: heavy backends are imported only when used.

Usage::

    from posecast.engines.estimator import PoseEstimator

    estimator = PoseEstimator.from_config()  # the shipped models, on the CPU
    estimate = estimator.estimate(image_rgb)  # (H, W, 3) uint8 RGB
    estimate.poses.joints_cam_m  # (N, 33, 3) metres, camera frame
"""
