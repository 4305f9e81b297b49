"""The lmdeploy engine: InternVL3 (or any lmdeploy model) in-process on NVIDIA GPUs.

lmdeploy is imported only inside ``LmdeployEngine``; everything that decides what
is sent (engine config, generation config, messages) is built by the pure
functions below, which CI tests without lmdeploy installed. Checked against
lmdeploy 0.18.0's source:

- ``pipeline(model, backend_config=TurbomindEngineConfig(...) | PytorchEngineConfig(...),
  trust_remote_code=True)``: InternVL3's checkpoints (``InternVLChatModel``) define
  their config in remote code. ``trust_remote_code`` defaults to False there, and
  then ``llm_config`` stays a plain dict that the PyTorch engine reads by
  attribute (``'dict' object has no attribute 'hidden_size'``);
- ``GenerationConfig(do_sample=True, ...)``: without ``do_sample`` lmdeploy decodes
  greedily, and a retry would repeat the same failure;
- ``response_format={"type": "json_schema", "json_schema": {"schema": ...}}`` is
  compiled to a grammar (xgrammar);
- images go as ``{"type": "image_data", "image_data": {"data": PIL.Image,
  "max_dynamic_patch": N}}`` inside OpenAI-style messages: the extra keys reach
  InternVL's preprocessor, which tiles each image into at most N patches. (A
  plain local path in a ``(text, images)`` tuple is treated as a URL and fails.)
- ``Pipeline.infer(list_of_messages, gen_config=[...])`` returns ``Response``
  objects with ``text``, ``finish_reason``, ``input_token_len``, ``generate_token_len``.

Requests are submitted in chunks of ``LMDEPLOY_BATCH_SIZE`` (the engine batches
them continuously), which bounds the images held in memory at once. A chunk that
fails with an out-of-memory error is halved and retried, down to one request;
what still fails is left unfinished for the next run.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from utilities.engines.base import (
    EngineRequest,
    EngineResult,
    ImagePart,
    ImageStore,
    json_schema_format,
    message_content,
    stopped,
)
from utilities.errors import ConfigError
from utilities.logger import get_logger
from utilities.settings import Float, Int, NonEmpty, SettingsModel, choice, setting

log = get_logger(__name__)


class LmdeploySettings(SettingsModel):
    """The lmdeploy engine's options (LMDEPLOY_*, MODEL_FORMAT ...): declared here, read by utilities/config.py."""

    model: str = Field("", alias="MODEL")  # declared once in base.ModelSettings
    model_format: NonEmpty = setting(
        "awq", "weight format of MODEL for lmdeploy (awq, gptq, hf, fp8)", run_key=True, curate_key=True
    )
    num_gpus: Int = setting("1", "GPUs for tensor parallelism in the lmdeploy engine", ge=1)
    engine: choice("turbomind", "pytorch") = setting(
        "turbomind", "lmdeploy backend: turbomind or pytorch", env="LMDEPLOY_ENGINE"
    )
    session_len: Int = setting("16384", "lmdeploy context length (prompt + images + reply)", ge=1)
    cache_max_entry_count: Float = setting("0.8", "share of free GPU memory for lmdeploy's KV cache", ge=0.01, le=1.0)
    max_image_tiles: Int = setting(
        "6", "InternVL tiles per image (max_dynamic_patch), 256 tokens each", ge=1, run_key=True
    )
    batch_size: Int = setting("256", "requests handed to lmdeploy per call", env="LMDEPLOY_BATCH_SIZE", ge=1)


def engine_config(settings: LmdeploySettings) -> tuple[str, dict[str, Any]]:
    """(config class name, keyword arguments) for the lmdeploy backend config."""
    kwargs: dict[str, Any] = {
        "tp": settings.num_gpus,
        "session_len": settings.session_len,
        "cache_max_entry_count": settings.cache_max_entry_count,
        "enable_prefix_caching": True,
    }
    if settings.engine == "pytorch":
        # The PyTorch engine reads quantization from the checkpoint; only fp8 is named explicitly.
        if settings.model_format == "fp8":
            kwargs["model_format"] = "fp8"
        return "PytorchEngineConfig", kwargs
    kwargs["model_format"] = settings.model_format
    return "TurbomindEngineConfig", kwargs


def generation_config(request: EngineRequest) -> dict[str, Any]:
    """Keyword arguments for ``lmdeploy.GenerationConfig`` for one request."""
    return {
        "do_sample": True,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_new_tokens": request.max_tokens,
        "random_seed": request.seed,
        "repetition_penalty": request.repetition_penalty,
        "response_format": json_schema_format(request.schema),
    }


def build_messages(request: EngineRequest, images: ImageStore, max_tiles: int) -> list[dict[str, Any]]:
    """OpenAI-style messages with decoded images as ``image_data`` items lmdeploy accepts."""

    def image_data(part: ImagePart) -> dict[str, Any] | None:
        image = images.image(part.path)
        if image is None:
            return None
        return {"type": "image_data", "image_data": {"data": image, "max_dynamic_patch": max_tiles}}

    content = message_content(request, image_data)
    return [{"role": "system", "content": request.system}, {"role": "user", "content": content}]


def result_from_response(response: Any) -> EngineResult:
    """An EngineResult from an ``lmdeploy.Response`` (read by attribute)."""
    finish = getattr(response, "finish_reason", None)
    error = None
    if finish in ("error", "abort"):
        error = getattr(response, "error_message", None) or f"lmdeploy finished with {finish}"
    return EngineResult(
        text=getattr(response, "text", "") or "",
        finish_reason=finish,
        prompt_tokens=int(getattr(response, "input_token_len", 0) or 0),
        completion_tokens=int(getattr(response, "generate_token_len", 0) or 0),
        error=error,
    )


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError, or a CUDA/TurboMind error that says it ran out of memory."""
    text = f"{type(exc).__name__} {exc}".lower()
    return "outofmemory" in text or "out of memory" in text or "cuda_error_out_of_memory" in text


def cuda_gpu_visible() -> bool:
    """True when an NVIDIA driver exposes a GPU to this process (no torch import needed)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


class LmdeployEngine:
    name = "lmdeploy"
    Options = LmdeploySettings
    packages = ("lmdeploy",)
    verifies_by_default = True  # InternVL3-8B verifies (README, "Verify pass")

    @staticmethod
    def auto_reason(options: LmdeploySettings) -> str | None:
        if importlib.util.find_spec("lmdeploy") is not None and cuda_gpu_visible():
            return "lmdeploy is installed and a CUDA GPU is visible"
        return None

    def __init__(self, settings: LmdeploySettings, images: ImageStore):
        try:
            import lmdeploy
        except ImportError as exc:
            raise ConfigError(f"BACKEND=lmdeploy needs lmdeploy: pip install -r requirements-gpu.txt ({exc})") from None
        self.settings = settings
        self.images = images
        self._lmdeploy = lmdeploy
        class_name, kwargs = engine_config(settings)
        backend_config = getattr(lmdeploy, class_name)(**kwargs)
        log.info("loading %s with lmdeploy %s (%s %s)", settings.model, lmdeploy.__version__, class_name, kwargs)
        self.pipe = lmdeploy.pipeline(
            settings.model, backend_config=backend_config, log_level="ERROR", trust_remote_code=True
        )

    def describe(self) -> dict[str, Any]:
        class_name, kwargs = engine_config(self.settings)
        return {
            "backend": self.name,
            "model": self.settings.model,
            "engine": class_name,
            **kwargs,
            "max_image_tiles": self.settings.max_image_tiles,
            "batch_size": self.settings.batch_size,
            "lmdeploy": self._lmdeploy.__version__,
        }

    def generate(
        self, requests: list[EngineRequest], stop: threading.Event | None = None
    ) -> Iterator[tuple[int, EngineResult]]:
        size = self.settings.batch_size
        for start in range(0, len(requests), size):
            if stopped(stop):
                return
            yield from self._chunk(requests, list(range(start, min(start + size, len(requests)))))

    def _chunk(self, requests: list[EngineRequest], indices: list[int]) -> Iterator[tuple[int, EngineResult]]:
        chunk = [requests[i] for i in indices]
        prompts = [build_messages(r, self.images, self.settings.max_image_tiles) for r in chunk]
        gen_configs = [self._lmdeploy.GenerationConfig(**generation_config(r)) for r in chunk]
        try:
            responses = self.pipe.infer(prompts, gen_config=gen_configs)
        except Exception as exc:  # an engine failure: halve on OOM, else leave the chunk unfinished
            if is_out_of_memory(exc) and len(indices) > 1:
                half = len(indices) // 2
                log.warning("out of GPU memory on %d requests; retrying as two halves", len(indices))
                yield from self._chunk(requests, indices[:half])
                yield from self._chunk(requests, indices[half:])
                return
            error = EngineResult(error=f"{type(exc).__name__}: {exc}", finish_reason="error", transient=True)
            for index in indices:
                yield index, error
            return
        for index, response in zip(indices, responses):
            yield index, result_from_response(response)

    def waiting_detail(self) -> str:
        return ""

    def close(self) -> None:
        self.pipe.close()
