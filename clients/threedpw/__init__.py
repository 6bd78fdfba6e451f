"""3DPW: the dataset layout, posecast's prediction files, and the challenge evaluation.

Usage::

    from posecast.clients.threedpw.layout import list_sequences, load_sequence
    from posecast.clients.threedpw.prediction import Prediction3DPW, write_prediction
    from posecast.clients.threedpw.evaluate import evaluate_split

    for name in list_sequences(root, "test"):
        sequence = load_sequence(root, "test", name)     # typed ground truth, image paths
        joints_cam_m = ...                               # (P, N, 24, 3) from the pipeline
        write_prediction(out / "test", name, Prediction3DPW(joints_cam_m))
    result = evaluate_split(out, root, "test")           # MPJPE, PA-MPJPE, PCK, AUC

The tests write small sequences in the same layout (``tests/synthetic/threedpw.py``);
``posecast eval3dpw`` is the command-line front end; docs/3dpw.md has the details.
"""
