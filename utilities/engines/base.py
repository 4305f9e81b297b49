"""The engine interface shared by every backend, and the engine-neutral request.

An engine takes a list of ``EngineRequest`` and yields ``(index, EngineResult)``
pairs as requests finish, in completion order, so the caller never waits on the
slowest request to record the others. Every request started yields exactly one
result: failures are results with ``error`` set, never exceptions, so one bad
request cannot lose the batch. When ``stop`` is set the engine starts no new
request, lets those in flight finish, and returns: requests never started yield
nothing. An error is ``transient`` when the engine itself failed (server gone,
CUDA error, out of memory after every fallback): the request is then left
unfinished for the next run rather than rejected. Engines render the neutral message (a system prompt and a
list of text and image parts) into their own wire format.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from utilities.errors import ImageLoadError
from utilities.images import load_image
from utilities.logger import get_logger
from utilities.settings import NonEmpty, SettingsModel, setting

log = get_logger(__name__)


class ModelSettings(SettingsModel):
    """The model the engines that name one use: declared once, here, for all of them. An engine's options
    take it as a field aliased ``MODEL`` (utilities/config.py fills it in)."""

    model: NonEmpty = setting(
        "OpenGVLab/InternVL3-8B-AWQ",
        "the model: what lmdeploy loads (id or local path); the name an OpenAI-compatible server is asked for",
        run_key=True,
        curate_key=True,
    )


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    path: Path  # absolute path inside MARKDOWN_DOCS_DIR
    figure_id: str


@dataclass(frozen=True)
class EngineRequest:
    id: str
    system: str
    parts: tuple[TextPart | ImagePart, ...]
    schema: dict[str, Any]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    repetition_penalty: float = 1.0  # multiplicative (HF, lmdeploy, llama.cpp); 1.0 is off
    frequency_penalty: float = 0.0  # additive, OpenAI's; 0.0 is off
    cache_group: str = ""  # requests that share a long prompt prefix (a section's): engines route them together

    @property
    def images(self) -> list[ImagePart]:
        return [p for p in self.parts if isinstance(p, ImagePart)]


@dataclass
class EngineResult:
    text: str = ""
    finish_reason: str | None = None  # "stop", "length", "error", ...
    prompt_tokens: int = 0  # sent
    completion_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, reused from the engine's prefix cache rather than evaluated
    error: str | None = None  # transport or engine failure; the reply text is then unusable
    transient: bool = False  # the engine failed, not this request: leave it unfinished
    attempts: int = 1  # transport attempts spent on this request
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    name: str

    def describe(self) -> dict[str, Any]:
        """The engine's effective settings, for logs and reports (never secrets)."""
        ...

    def generate(
        self, requests: list[EngineRequest], stop: threading.Event | None = None
    ) -> Iterator[tuple[int, EngineResult]]:
        """Yield (index into requests, result) once for every request started, as each finishes."""
        ...

    def waiting_detail(self) -> str:
        """What the engine adds to the line said while requests wait (retries, the last error), or ""."""
        ...

    def close(self) -> None: ...


class _SizedLRU:
    """Least-recently-used values whose sizes add up to at most ``budget`` bytes."""

    def __init__(self, budget: int):
        self.budget = budget
        self._items: OrderedDict[Path, tuple[Any, int]] = OrderedDict()
        self._size = 0

    def get(self, key: Path) -> Any:
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key][0]

    def put(self, key: Path, value: Any, size: int) -> None:
        if key in self._items:
            self._size -= self._items.pop(key)[1]
        self._items[key] = (value, size)
        self._size += size
        while self._size > self.budget and len(self._items) > 1:
            self._size -= self._items.popitem(last=False)[1][1]


class ImageStore:
    """Decoded, size-bounded images shared by the requests of a run, in caches bounded in bytes.

    A decoded image at ``MAX_IMAGE_SIDE`` 2048 is up to 12 MiB, so the caches
    hold what a window of requests reuses (requests go document by document)
    rather than a count of images: a count let memory grow with the corpus.
    An image that fails to decode is warned about once (naming the file) and
    then left out of every request that names it.
    """

    def __init__(self, max_side: int, image_bytes: int = 256 << 20, url_bytes: int = 64 << 20):
        self.max_side = max_side
        self._images = _SizedLRU(image_bytes)
        self._urls = _SizedLRU(url_bytes)
        self._bad: set[Path] = set()
        self._lock = threading.Lock()

    def image(self, path: Path) -> Image.Image | None:
        with self._lock:
            if path in self._bad:
                return None
            if (image := self._images.get(path)) is not None:
                return image
        image = self._decode(path)
        if image is not None:
            with self._lock:
                self._images.put(path, image, image.width * image.height * len(image.getbands()))
        return image

    def _decode(self, path: Path) -> Image.Image | None:
        try:
            return load_image(path, self.max_side)
        except ImageLoadError as exc:
            with self._lock:
                if path not in self._bad:
                    log.warning("%s; sent without this image", exc)
                self._bad.add(path)
            return None

    def data_url(self, path: Path) -> str | None:
        """The image as a ``data:image/...;base64,`` URL (PNG, or JPEG for photos).

        Only the URL is kept: an engine that sends URLs never needs the decoded image again.
        """
        with self._lock:
            if path in self._bad:
                return None
            if (url := self._urls.get(path)) is not None:
                return url
        image = self._decode(path)
        if image is None:
            return None
        buffer = io.BytesIO()
        if path.suffix.lower() in (".jpg", ".jpeg"):
            image.save(buffer, "JPEG", quality=90)
            mime = "image/jpeg"
        else:
            image.save(buffer, "PNG", optimize=False)
            mime = "image/png"
        url = f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"
        with self._lock:
            self._urls.put(path, url, len(url))
        return url


def message_content(
    request: EngineRequest, image_item: Callable[[ImagePart], dict[str, Any] | None]
) -> list[dict[str, Any]]:
    """The user message's content list: adjacent text parts joined, each image as ``image_item``
    renders it (None leaves the image out)."""
    content: list[dict[str, Any]] = []
    for part in request.parts:
        if isinstance(part, TextPart):
            if content and content[-1]["type"] == "text":
                content[-1] = {"type": "text", "text": content[-1]["text"] + part.text}
            else:
                content.append({"type": "text", "text": part.text})
        elif (item := image_item(part)) is not None:
            content.append(item)
    return content


def openai_messages(request: EngineRequest, images: ImageStore | None) -> list[dict[str, Any]]:
    """OpenAI chat messages; images as data URLs, or left out when ``images`` is None."""

    def image_url(part: ImagePart) -> dict[str, Any] | None:
        url = images.data_url(part.path) if images is not None else None
        return {"type": "image_url", "image_url": {"url": url}} if url is not None else None

    content = message_content(request, image_url)
    user: Any = content[0]["text"] if len(content) == 1 and content[0]["type"] == "text" else content
    return [{"role": "system", "content": request.system}, {"role": "user", "content": user}]


def stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def json_schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "qa_pairs", "schema": schema, "strict": True}}


def result_from_openai(reply: Any) -> EngineResult:
    """An EngineResult from an OpenAI-style chat completion (dict), or its error body."""
    if not isinstance(reply, dict):
        return EngineResult(error=f"unexpected reply type {type(reply).__name__}", finish_reason="error")
    if "error" in reply and "choices" not in reply:
        error = reply["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        return EngineResult(error=str(message), finish_reason="error")
    try:
        choice = reply["choices"][0]
        text = choice["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return EngineResult(error=f"malformed completion: {str(reply)[:200]}", finish_reason="error")
    usage = reply.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}  # llama.cpp, vLLM and OpenAI report reused prefix tokens here
    return EngineResult(
        text=text,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
    )
