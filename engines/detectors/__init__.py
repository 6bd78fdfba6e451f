"""Person detectors: frame in, person boxes out, at an input size that fits the frame.

Modules: ``letterbox`` (input size rule, letterbox geometry, mapping boxes back), ``base``
(``PersonBoxes``, ``DetectorConfig``, the ``PersonDetector`` protocol), ``grid`` (what the
detectors share: letterboxing, batching frames of different sizes, NMS), ``nanodet`` (the
shipped default), ``yolox`` (YOLOX-Nano, user-supplied), ``loading`` (detectors by name).

Usage::

    from posecast.engines.detectors.base import DetectorConfig
    from posecast.engines.detectors.loading import load_detector

    detector = load_detector("nanodet", config=DetectorConfig(min_person_height_px=80))
    (boxes,) = detector.detect([image_rgb])          # PersonBoxes, frame pixels
    detector.input_letterbox((1920, 1080))           # the input it runs at: 960 x 544

    # YOLOX-Nano from a user's directory (prepared once, see posecast.engines.detectors.yolox)
    detector = load_detector("yolox-nano", model_dir=Path("~/models/yolox").expanduser())
"""
