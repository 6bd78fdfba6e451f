"""posecast tracker: from per-frame camera-space skeletons to tracks with stable identities.

Pure numpy/scipy; no model or web imports.
"""
