"""Camera geometry: the one place for cameras, crops, reconstruction and skeleton formats.

Modules, each depending only on those listed before it: ``camera`` (intrinsics, distortion,
extrinsics, projection), ``boxes`` (box validation, IoU, non-maximum suppression),
``rotations`` (look-at rotations, rotations about the optical axis, angle wrapping),
``rois`` (the BlazePose/MediaPipe ``Roi`` record; making, comparing, deduplicating and
orienting ROIs), ``warps`` (cutting ROIs out of images, mapping points between image and
crop), ``perspective_crops`` (MeTRAbs perspective crops), ``reconstruction`` (absolute 3D
poses from root-relative ones), ``skeletons`` (joint sets and conversions),
``augmentation`` (test-time augmentation); for fixed cameras ``ground`` (the ground
plane and its world frame), ``scene_config`` (settings), ``scene_calibration``
(self-calibration from the people seen), ``placement`` (ground-contact placement) and
``scene`` (the scene record and file), docs/scene.md. All functions are pure, over
(N, ...) arrays, pixels and metres; conventions are in docs/geometry.md.

Usage (BlazePose on one frame)::

    from posecast.engines.geometry import camera, reconstruction, rois, skeletons, warps

    cam = camera.Camera.from_fov(width, height)
    roi = rois.roi_from_box(boxes_xyxy)                        # (N,) square ROIs
    crop_images = warps.warp_roi(image_rgb, roi)               # (N, 256, 256, 3)
    # ... model -> landmarks_crop_px (N, 33, 2), world_m (N, 33, 3), scores (N, 33)
    joints2d_px = warps.crop_to_image_points(landmarks_crop_px, roi)
    joints_rel_m = rois.roi_world_to_camera(world_m, roi, cam.K)
    poses = reconstruction.reconstruct_absolute(
        joints_rel_m, joints2d_px, cam.K, scores, image_size_wh=(width, height)
    )
    smpl_m = skeletons.convert_joints(poses.joints_cam_m[poses.is_valid], "blazepose_33", "smpl_24")
"""
