"""The ``triton`` runtime: the models run on a Triton Inference Server, reached over gRPC.

Many posecast front ends can share one pool of GPU servers this way. Streams stay on their
front end (the tracker state is per stream, in that process); each front end still puts its
own dynamic batcher in front of every model, so one request to Triton carries the crops of
all its streams; Triton's dynamic batcher then merges the requests of all front ends and
spreads the runs over its model instances (``deploy/triton/make_repository.py`` writes the
model repository, docs/deploy.md).

Models are found by name: the ONNX file's stem (``pose_landmark_full.onnx`` is the model
``pose_landmark_full``), as the repository generator names them. If the server's model
config records the model's sha256 (parameter ``posecast_model_sha256``, written by the
generator), it must equal the local file's: a front end never runs against other weights
than its own decoding expects.

Failures are errors in bounded time, never a hang: loading waits at most
``TritonOptions.startup_timeout_s`` for the server and the model, then raises
``ProviderUnavailableError`` naming the address and the last problem; every inference
request has a deadline (``timeout_s``), and an unreachable, failing or stalled server raises
``ModelError`` for that batch (the service answers it per frame and reports not ready while
``server_problem`` finds the server down).

The gRPC client (``tritonclient[grpc]``, the ``triton`` extra) is imported only when this
runtime is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posecast.engines.assets import file_sha256
from posecast.engines.runtimes.base import ClosingContext, RuntimeOptions, TensorSpec, TritonOptions
from posecast.engines.runtimes.chunking import infer_in_chunks
from posecast.errors import ModelError, ProviderUnavailableError

SHA256_PARAMETER = "posecast_model_sha256"
"""Model config parameter holding the sha256 of the ONNX file the model was made from."""

HEALTH_TIMEOUT_S = 2.0
"""Deadline of one health call (readiness checks, the startup wait's polls)."""

TRITON_DTYPES = {"FP32": np.float32, "FP16": np.float16, "UINT8": np.uint8}

_MAX_MESSAGE_BYTES = 2**31 - 1
_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
    # After an outage, try the server again within 2 s (gRPC's default backoff grows to 2
    # minutes, which would keep a restarted server unused for that long).
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # A url dns:///NAME:PORT resolving to several servers (a headless Kubernetes Service of
    # Triton pods) spreads requests over all of them instead of pinning the first.
    ("grpc.lb_policy_name", "round_robin"),
]


def _import_client() -> Any:
    try:
        import tritonclient.grpc as grpcclient
    except ImportError as error:
        raise ProviderUnavailableError(
            f"provider 'triton' needs the triton extra (pip install 'posecast[triton]'): {error}"
        ) from error
    return grpcclient


def triton_model_name(model_path: Path) -> str:
    """The name of the model ``model_path`` on a Triton server: the file's stem."""
    return Path(model_path).stem


def _describe(error: Exception) -> str:
    status = getattr(error, "status", None)
    message = getattr(error, "message", None)
    status_text = status() if callable(status) else None
    message_text = message() if callable(message) else str(error)
    return f"{status_text}: {message_text}" if status_text else str(message_text)


def server_problem(options: TritonOptions, timeout_s: float = HEALTH_TIMEOUT_S) -> str | None:
    """Why the Triton server at ``options.url`` cannot serve now, or None if it is ready.

    Readiness is the server's own (Triton's strict readiness: every model loaded); one call
    with a deadline of ``timeout_s``, so a stalled server is reported, not waited for.
    """
    grpcclient = _import_client()
    client = grpcclient.InferenceServerClient(options.url, channel_args=_CHANNEL_ARGS)
    try:
        if client.is_server_ready(client_timeout=timeout_s):
            return None
        return f"Triton at {options.url} is up but not ready (models loading or failed)"
    except Exception as error:  # InferenceServerException, or gRPC's own on a bad address
        return f"cannot reach Triton at {options.url}: {_describe(error)}"
    finally:
        client.close()


def tensor_specs(tensors: list[dict[str, Any]], model_name: str) -> tuple[TensorSpec, ...]:
    """TensorSpecs from the ``inputs`` or ``outputs`` of Triton's model metadata (JSON):
    shapes with the batch dim first, -1 (dynamic) as None."""
    specs = []
    for tensor in tensors:
        datatype = tensor["datatype"]
        if datatype not in TRITON_DTYPES:
            raise ModelError(f"{model_name}: tensor {tensor['name']} has type {datatype}")
        shape = tuple(None if int(dim) < 0 else int(dim) for dim in tensor["shape"])
        specs.append(TensorSpec(tensor["name"], shape, np.dtype(TRITON_DTYPES[datatype])))
    return tuple(specs)


def check_model_sha256(config: Mapping[str, Any], model_path: Path, url: str) -> None:
    """Refuse a server model made from other weights than ``model_path``.

    Raises:
        ModelError: the config records a sha256 that differs from the local file's.
    """
    parameter = config.get("parameters", {}).get(SHA256_PARAMETER)
    if parameter is None:
        return  # a repository not written by posecast's generator: nothing to compare
    served = parameter.get("string_value", "")
    local = file_sha256(model_path)
    if served != local:
        raise ModelError(
            f"Triton at {url} serves {config.get('name')} made from sha256 {served}, but this "
            f"front end's {model_path.name} has sha256 {local}: regenerate the model "
            "repository from the same posecast version (deploy/triton/make_repository.py)"
        )


class TritonRuntime(ClosingContext):
    """A model served by Triton; ``infer`` sends each batch as one gRPC request (or several
    if it exceeds the server model's ``max_batch_size``)."""

    def __init__(self, model_path: Path, options: RuntimeOptions) -> None:
        grpcclient = _import_client()
        self._grpcclient = grpcclient
        self._options = options.triton
        self.url = options.triton.url
        self.model_name = triton_model_name(model_path)
        self._client = grpcclient.InferenceServerClient(self.url, channel_args=_CHANNEL_ARGS)
        try:
            metadata, config = self._wait_for_model()
            check_model_sha256(config, Path(model_path), self.url)
        except BaseException:
            self._client.close()
            raise
        self.max_batch_size = int(config.get("max_batch_size", 0))
        if self.max_batch_size < 1:
            self._client.close()
            raise ModelError(
                f"Triton model {self.model_name} at {self.url} does not batch "
                "(max_batch_size 0); posecast sends batches (regenerate its repository)"
            )
        self.inputs = tensor_specs(metadata["inputs"], self.model_name)
        self.outputs = tensor_specs(metadata["outputs"], self.model_name)
        self._output_names = [spec.name for spec in self.outputs]

    def _wait_for_model(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Metadata and config of the model, once the server has it ready.

        Raises:
            ProviderUnavailableError: not ready within ``startup_timeout_s``.
        """
        deadline = time.monotonic() + self._options.startup_timeout_s
        while True:
            problem = self._model_problem()
            if problem is None:
                try:
                    metadata = self._client.get_model_metadata(
                        self.model_name, as_json=True, client_timeout=HEALTH_TIMEOUT_S
                    )
                    config = self._client.get_model_config(
                        self.model_name, as_json=True, client_timeout=HEALTH_TIMEOUT_S
                    )["config"]
                    return metadata, config
                except self._grpcclient.InferenceServerException as error:
                    problem = f"cannot read the model's config: {_describe(error)}"
            if time.monotonic() + 1.0 > deadline:
                raise ProviderUnavailableError(
                    f"provider 'triton': model {self.model_name} not available at {self.url} "
                    f"after {self._options.startup_timeout_s:g} s: {problem}"
                )
            time.sleep(1.0)

    def _model_problem(self) -> str | None:
        try:
            if self._client.is_model_ready(self.model_name, client_timeout=HEALTH_TIMEOUT_S):
                return None
            return "the server does not have this model ready (unknown, loading or failed)"
        except self._grpcclient.InferenceServerException as error:
            return f"cannot reach the server: {_describe(error)}"

    def health_problem(self) -> str | None:
        """Why this model cannot run now, or None (one call, ``HEALTH_TIMEOUT_S`` deadline)."""
        problem = self._model_problem()
        return None if problem is None else f"Triton at {self.url}, {self.model_name}: {problem}"

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch; see ``Runtime.infer``.

        Raises:
            ModelError: the server cannot be reached, fails, or does not answer within
                ``TritonOptions.timeout_s`` (the message names the server and the model).
        """
        for spec in self.inputs:
            if spec.name not in feeds:
                raise ModelError(f"missing input {spec.name!r}")
            spec.check(feeds[spec.name])
        return infer_in_chunks(self._run, feeds, self.max_batch_size)

    def _run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        grpcclient = self._grpcclient
        inputs = []
        for spec in self.inputs:
            array = np.ascontiguousarray(feeds[spec.name])
            tensor = grpcclient.InferInput(spec.name, list(array.shape), _triton_dtype(spec))
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        outputs = [grpcclient.InferRequestedOutput(name) for name in self._output_names]
        try:
            result = self._client.infer(
                self.model_name, inputs, outputs=outputs, client_timeout=self._options.timeout_s
            )
        except grpcclient.InferenceServerException as error:
            raise ModelError(
                f"Triton at {self.url}, model {self.model_name}: {_describe(error)}"
            ) from error
        # as_numpy views the response buffer read-only; callers get arrays of their own.
        return {name: np.array(result.as_numpy(name)) for name in self._output_names}

    def close(self) -> None:
        self._client.close()


def _triton_dtype(spec: TensorSpec) -> str:
    return next(name for name, dtype in TRITON_DTYPES.items() if np.dtype(dtype) == spec.dtype)
