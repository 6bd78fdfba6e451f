"""posecast tracker: from per-frame camera-space skeletons to tracks with stable identities.

Pure numpy/scipy; no model or web imports.

Usage::

    from posecast.tracker.config import TrackerConfig
    from posecast.tracker.tracker import Tracker

    tracker = Tracker(TrackerConfig(searching_timeout_s=1.5))
    for frame_poses, timestamp_s in frames:  # posecast.engines.frames.FramePoses, seconds
        tracked = tracker.update(frame_poses, timestamp_s)
        tracked.track_ids, tracked.track_states  # (N,) ids and state names
        tracked.joints_cam_m, tracked.joints_cam_raw_m  # smoothed and raw (N, J, 3) metres

See docs/tracker.md for states, options and the reference (3DPW) association modes.
"""
