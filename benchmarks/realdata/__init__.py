"""Real-footage measurement kit: loaders of the development data, scorers, shared helpers.

Loaders take the data root (e.g. ``../shared/data/real``) and read nothing else; scorers
are pure functions over arrays. Used by the ``benchmarks/bench_*_real.py`` scripts, which
have ``benchmarks/`` on ``sys.path``::

    from realdata.boxes import padded_landmark_boxes_xyxy
    from realdata.detection import match_frame, score_detections
    from realdata.mot import load_mot17

    matches = []
    for sequence in load_mot17(root):
        for frame in sequence.frames:
            truth = sequence.truth[frame]
            joints2d_px, scores = ...  # a model's (N, J, 2) landmarks and (N,) scores
            boxes_xyxy = padded_landmark_boxes_xyxy(joints2d_px)
            matches.append(
                match_frame(boxes_xyxy, scores, truth.target_xyxy, truth.dont_care_xyxy)
            )
    print(score_detections(matches).recall)

Modules: ``mot``, ``images``, ``threedhp``, ``panoptic`` (loaders); ``boxes``,
``detection``, ``tracking``, ``keypoints``, ``pose3d``, ``multiview`` (scorers);
``cache``, ``pipeline``, ``report`` (running the estimator and printing).
"""
