"""The openai engine: any OpenAI-compatible server, the scale-out path.

lmdeploy ``serve api_server`` (one per GPU node, behind ``lmdeploy serve proxy``),
vLLM, SGLang or llama.cpp's server. ``API_BASE_URL`` is one base URL or several
(comma-separated, each ending in ``/v1``), used round-robin; ``MAX_CONCURRENCY``
bounds the requests in flight. Images go as base64 data URLs. Replies are
constrained with ``response_format`` ``json_schema``; a server that rejects it
(HTTP 400 naming response_format or json_schema) gets ``json_object`` from then
on, and the reply is still validated against the schema. A server that refuses
images (llama.cpp without a vision projector says "image input is not
supported") gets text only from then on: figures reach it by id and caption.

Transport failures (408, 429, 5xx, timeouts, refused or dropped connections)
are retried with capped exponential backoff and jitter, honouring Retry-After,
up to ``TRANSPORT_RETRIES`` times; then the request's result carries the error.
The line said while requests wait (``engines/sending.py``) names those retrying and the last error. A
run of connection failures across requests marks the engine down (``_Health``):
no new request starts and the waiting ones give up, all left for the next run.
The API key is sent as a bearer token and never logged or stored: a server may
echo the request's headers, so everything it says (error bodies, reply content)
and every exception's text is masked (``mask_secret``) as it enters, before any of
it is cut short, logged or returned.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from utilities.engines.base import (
    EngineRequest,
    EngineResult,
    ImageStore,
    json_schema_format,
    openai_messages,
    result_from_openai,
    stopped,
)
from utilities.logger import get_logger
from utilities.settings import Float, Int, SettingsModel, SettingValueError, Text, parsed, setting

log = get_logger(__name__)

CONNECT_TIMEOUT_S = 10.0  # or REQUEST_TIMEOUT when shorter
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 120.0
DOWN_AFTER_FAILURES = 8  # connection failures in a row, across requests, that mark the engine down
DOWN_POLL_S = 0.1  # a backoff ends this soon after the engine is marked down


def _url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) URL with a host, or None.

    >>> _url_problem("http://127.0.0.1:99999/v1"), _url_problem("ftp://b/v1"), _url_problem("http://gpu:23333/v1")
    ("port '99999' is not a number from 1 to 65535", 'not http:// or https://', None)
    """
    try:
        parts = urlsplit(url)
        port_ok = parts.port != 0  # .port raises ValueError for "a:port" or "a:99999"
    except ValueError:
        port_ok = False
    if not port_ok:
        given = url.split("://", 1)[-1].split("/", 1)[0].rpartition(":")[2]
        return f"port {given!r} is not a number from 1 to 65535"
    if parts.scheme not in ("http", "https"):
        return "not http:// or https://"
    if not parts.hostname:
        return "no host"
    return None


def _base_urls(raw: str) -> tuple[str, ...]:
    """``" http://a:23333/v1/ ,http://b:23333/v1"`` -> both, without trailing slashes."""
    urls = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for url in urls:
        if (problem := _url_problem(url)) is not None:
            raise SettingValueError(
                f"must be comma-separated http:// or https:// URLs with a host, got {url!r}: {problem}"
            )
    return urls


class OpenAISettings(SettingsModel):
    """The openai engine's options (API_*, ...): declared here, read by utilities/config.py."""

    base_urls: Annotated[tuple[str, ...], parsed(_base_urls)] = setting(
        "", "OpenAI-compatible base URL(s) ending in /v1, comma-separated", env="API_BASE_URL"
    )
    api_key: Text = setting("", "bearer token for API_BASE_URL; never logged", secret=True)
    model: str = Field("", alias="MODEL")  # declared once in base.ModelSettings
    max_concurrency: Int = setting("64", "requests in flight at once (openai engine)", ge=1)
    timeout_s: Float = setting(
        "600", "seconds before one HTTP request is abandoned and retried", env="REQUEST_TIMEOUT", ge=1.0, le=86400.0
    )
    transport_retries: Int = setting("5", "re-sends after 429/5xx/timeouts/dropped connections", ge=0)


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP_S)
    except ValueError:
        pass
    try:
        return min(max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0), RETRY_AFTER_CAP_S)
    except (TypeError, ValueError):
        return None


def backoff_seconds(attempt: int, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter: attempt 0 -> up to 0.5 s, 1 -> 1 s, ..."""
    return rng.uniform(0.5, 1.0) * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)


MASK = "[API_KEY]"
MASK_MIN_PREFIX = 6  # a cut key keeps this much of itself at least to be recognised; shorter is no secret


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (httpx wraps the socket's own error twice)."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def transport_problem(exc: Exception, timeout_s: float) -> str:
    """A transport failure in plain words, not the HTTP library's class name.

    >>> transport_problem(httpx.ConnectError("All connection attempts failed"), 600)
    'could not connect (All connection attempts failed)'
    >>> transport_problem(httpx.ReadTimeout(""), 600)
    'no reply within REQUEST_TIMEOUT (600 s)'
    """
    text = str(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {min(CONNECT_TIMEOUT_S, timeout_s):.0f} s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"no reply within REQUEST_TIMEOUT ({timeout_s:g} s)"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        causes = _causes(exc)
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return "connection refused"
        if any(isinstance(c, socket.gaierror) for c in causes):
            return "host name not found"
        return f"could not connect ({text})" if text else "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without a complete reply"
    if isinstance(exc, httpx.ReadError):
        return "the connection broke while waiting for the reply"
    if isinstance(exc, httpx.WriteError):
        return "the connection broke while sending the request"
    return f"transport failure ({text or type(exc).__name__})"


def mask_secret(text: str, secret: str) -> str:
    """``text`` with ``secret`` and every prefix of it of 6+ characters replaced, longest first,
    so a key cut short by whoever wrote the text is masked too:
    ``mask_secret("Bearer sk-SECRET-ca", "sk-SECRET-canary")`` -> ``"Bearer [API_KEY]"``."""
    if not secret:
        return text
    for length in range(len(secret), min(MASK_MIN_PREFIX, len(secret)) - 1, -1):
        text = text.replace(secret[:length], MASK)
    return text


def _error_detail(body: str) -> str:
    """The server's error message, short and on one line."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return " ".join(body.split())[:200]
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    message = error.get("message", error) if isinstance(error, dict) else error
    return " ".join(str(message).split())[:200]


def _rejects_images(status: int, body: str) -> bool:
    if status < 400 or status == 429:
        return False
    detail = _error_detail(body).lower()
    return "image" in detail and ("not supported" in detail or "mmproj" in detail or "multimodal" in detail)


def _rejects_schema(status: int, body: str) -> bool:
    if status not in (400, 422):
        return False
    body = body.lower()
    return "response_format" in body or "json_schema" in body


@dataclass(frozen=True)
class _Failure:
    """An attempt worth repeating."""

    error: str
    retry_after: float | None = None  # the server's Retry-After, in seconds
    connection: bool = False  # no HTTP response at all


class _Health:
    """How the servers answer, across every request of the engine: the requests now retrying, the last
    transport error, and a circuit breaker.

    The breaker counts connection failures in a row: attempts that got no HTTP response at all (refused,
    reset or dropped connection, connect or read timeout). Any response, even a 429 or a 500, shows a
    server is there and answering, so it resets the count and keeps its backoff. At ``limit`` failures
    the engine is down for the rest of the run: said once, no request is started and the waiting ones
    give up, so the run ends in seconds with them unfinished instead of each spending its own backoff.
    """

    def __init__(self, where: str, limit: int):
        self.where = where
        self.limit = limit
        self.failures = 0
        self.retrying = 0
        self.last_error = ""
        self.down: str | None = None

    def answered(self) -> None:
        self.failures = 0

    def failed(self, failure: _Failure) -> None:
        self.last_error = failure.error
        if not failure.connection:
            return
        self.failures += 1
        if self.failures >= self.limit and self.down is None:
            self.down = (
                f"engine at {self.where} is down: {self.failures} connection failures in a row, "
                f"the last: {failure.error}"
            )
            log.error("%s; not starting new requests", self.down)


class OpenAIEngine:
    name = "openai"
    Options = OpenAISettings
    packages = ("httpx",)
    verifies_by_default = True  # a server runs a model that can verify (InternVL3-8B by default)

    @staticmethod
    def auto_reason(options: OpenAISettings) -> str | None:
        return "API_BASE_URL is set" if options.base_urls else None

    def __init__(self, settings: OpenAISettings, images: ImageStore):
        if not settings.base_urls:
            from utilities.errors import ConfigError

            raise ConfigError("BACKEND=openai needs API_BASE_URL, got ''")
        self.settings = settings
        self.images = images
        self._next_url = itertools.cycle(settings.base_urls)
        self._json_object_only: set[str] = set()  # servers that rejected json_schema
        self._text_only: set[str] = set()  # servers that rejected image input
        self._rng = random.Random(0)
        # 8, or two requests' worth of attempts if TRANSPORT_RETRIES allows more: one request's bad luck
        # alone never marks the engine down (a trip costs a rerun, not data: the rest stays unfinished).
        limit = max(DOWN_AFTER_FAILURES, settings.transport_retries + 2)
        self._health = _Health(", ".join(settings.base_urls), limit)

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "backend": self.name,
            "base_urls": list(s.base_urls),
            "model": s.model,
            "max_concurrency": s.max_concurrency,
            "timeout_s": s.timeout_s,
            "transport_retries": s.transport_retries,
            "api_key_set": bool(s.api_key),
        }

    def payload(self, request: EngineRequest, json_object: bool, text_only: bool = False) -> dict[str, Any]:
        body = {
            "model": self.settings.model,
            "messages": openai_messages(request, None if text_only else self.images),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "response_format": {"type": "json_object"} if json_object else json_schema_format(request.schema),
        }
        # Penalties only when set: OpenAI's own API refuses parameters it does not know
        # (repetition_penalty is vLLM's, lmdeploy's and SGLang's; llama.cpp's server reads repeat_penalty).
        if request.frequency_penalty:
            body["frequency_penalty"] = request.frequency_penalty
        if request.repetition_penalty != 1.0:
            body["repetition_penalty"] = request.repetition_penalty
        return body

    async def _one(self, client: httpx.AsyncClient, request: EngineRequest) -> EngineResult:
        """The request's result, re-sent after transport failures up to TRANSPORT_RETRIES times while
        the engine is up."""
        attempts, outcome = 1, await self._attempt(client, request)
        if isinstance(outcome, _Failure):
            self._health.retrying += 1
            try:
                while isinstance(outcome, _Failure):
                    self._health.failed(outcome)
                    log.debug("%s attempt %d: %s", request.id, attempts, outcome.error)
                    if attempts > self.settings.transport_retries or not await self._backoff(outcome, attempts - 1):
                        return self._gave_up(outcome, attempts)
                    attempts, outcome = attempts + 1, await self._attempt(client, request)
            finally:
                self._health.retrying -= 1
        outcome.attempts = attempts
        return outcome

    async def _attempt(self, client: httpx.AsyncClient, request: EngineRequest) -> EngineResult | _Failure:
        """One send: a result (a reply, or an error that is this request's own), or a failure worth retrying."""
        base = next(self._next_url)
        json_object = base in self._json_object_only
        text_only = base in self._text_only or not request.images
        try:
            response = await client.post(f"{base}/chat/completions", json=self.payload(request, json_object, text_only))
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            return _Failure(f"{transport_problem(exc, self.settings.timeout_s)} ({base})", connection=True)
        self._health.answered()
        status, body = response.status_code, self._mask(response.text)
        if status == 200:
            try:
                return result_from_openai(json.loads(body))
            except json.JSONDecodeError:
                return _Failure(f"HTTP 200 with a body that is not JSON from {base}")
        if not text_only and _rejects_images(status, body):
            if base not in self._text_only:
                log.warning("%s does not accept images (%s); sending it text only", base, _error_detail(body))
            self._text_only.add(base)
            return await self._attempt(client, request)  # not a transport failure: again, without images
        if not json_object and _rejects_schema(status, body):
            if base not in self._json_object_only:
                log.warning("%s rejected response_format json_schema; using json_object for it", base)
            self._json_object_only.add(base)
            return await self._attempt(client, request)  # not a transport failure: again, other format
        error = f"HTTP {status} from {base}: {_error_detail(body)}"
        if status in RETRY_STATUSES:
            return _Failure(error, retry_after_seconds(response))
        return EngineResult(error=error, finish_reason="error")

    async def _backoff(self, failure: _Failure, retry: int) -> bool:
        """Wait before a re-send (the server's Retry-After, else capped exponential backoff with jitter);
        False, as soon as it is so, when the engine is down."""
        delay = failure.retry_after if failure.retry_after is not None else backoff_seconds(retry, self._rng)
        deadline = time.monotonic() + delay
        while self._health.down is None and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, DOWN_POLL_S))
        return self._health.down is None

    def _gave_up(self, failure: _Failure, attempts: int) -> EngineResult:
        """The server kept failing: the request is left for the next run."""
        down = "; the engine is down" if self._health.down else ""
        return EngineResult(
            error=f"{failure.error}; gave up after {attempts} attempts{down}",
            finish_reason="error",
            attempts=attempts,
            transient=True,
        )

    def waiting_detail(self) -> str:
        """Requests waiting on retries and the last transport error, for the waiting line."""
        health = self._health
        if not health.retrying:
            return ""
        return f"{health.retrying} retrying, last error: {health.last_error}"

    async def _run(self, requests: list[EngineRequest], out: queue.Queue, stop: threading.Event | None) -> None:
        limit = asyncio.Semaphore(self.settings.max_concurrency)
        headers = {"Authorization": f"Bearer {self.settings.api_key}"} if self.settings.api_key else {}
        limits = httpx.Limits(max_connections=self.settings.max_concurrency)
        timeout = httpx.Timeout(self.settings.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.settings.timeout_s))
        async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits) as client:

            async def guarded(index: int, request: EngineRequest) -> None:
                async with limit:
                    if stopped(stop) or self._health.down:
                        return  # never started: it stays unfinished
                    try:
                        result = await self._one(client, request)
                    except Exception as exc:  # anything unforeseen is this request's failure, not the batch's
                        result = EngineResult(error=self._mask(f"{type(exc).__name__}: {exc}"), finish_reason="error")
                out.put((index, result))

            await asyncio.gather(*(guarded(i, r) for i, r in enumerate(requests)))

    def _mask(self, text: str) -> str:
        """Server text and exception text as they enter: a server may echo what it was sent."""
        return mask_secret(text, self.settings.api_key)

    def generate(
        self, requests: list[EngineRequest], stop: threading.Event | None = None
    ) -> Iterator[tuple[int, EngineResult]]:
        out: queue.Queue = queue.Queue()
        failure: list[BaseException] = []

        def runner() -> None:
            try:
                asyncio.run(self._run(requests, out, stop))
            except BaseException as exc:
                failure.append(exc)
            finally:
                out.put(None)

        thread = threading.Thread(target=runner, name="openai-engine", daemon=True)
        thread.start()
        seen: set[int] = set()
        while (item := out.get()) is not None:
            seen.add(item[0])
            yield item
        thread.join()
        if failure:  # the event loop itself broke: what it did not answer is left unfinished
            reason = self._mask(f"{type(failure[0]).__name__}: {failure[0]}")
            for index in range(len(requests)):
                if index not in seen:
                    yield index, EngineResult(error=reason, finish_reason="error", transient=True)

    def close(self) -> None:
        pass
