"""One router per concern: health, metrics, skeletons, poses, stream."""
