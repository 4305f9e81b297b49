"""Engine selection: a registry of backends by name, and ``BACKEND=auto``.

``auto`` picks lmdeploy when it imports and a CUDA GPU is visible, else openai
when ``API_BASE_URL`` is set, else the embedded CPU model, and says why.
Each backend imports its library (lmdeploy, llama.cpp) only when it is built,
so the dry run and the tests never load them. Tests register extra engines (a scripted fake) with
``register_engine``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from utilities.config import Config
from utilities.engines import BUILT_IN_ENGINES
from utilities.engines.base import Engine, ImageStore
from utilities.errors import ConfigError
from utilities.logger import get_logger

log = get_logger(__name__)

EngineFactory = Callable[[Config, ImageStore], Engine]


def engine_factory(engine: Any) -> EngineFactory:
    """Builds ``engine`` from its own options, as the config holds them."""
    return lambda config, images: engine(config.section(engine.Options), images)


ENGINES: dict[str, EngineFactory] = {engine.name: engine_factory(engine) for engine in BUILT_IN_ENGINES}


def register_engine(name: str, factory: EngineFactory) -> None:
    ENGINES[name] = factory


def cuda_gpu_visible() -> bool:
    """True when an NVIDIA driver exposes a GPU to this process (no torch import needed)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir())


def choose_backend(config: Config) -> tuple[str, str]:
    """(backend name, why) for the configured BACKEND."""
    if config.backend != "auto":
        return config.backend, "BACKEND is set"
    if importlib.util.find_spec("lmdeploy") is not None and cuda_gpu_visible():
        return "lmdeploy", "lmdeploy is installed and a CUDA GPU is visible"
    if config.api_base_url:
        return "openai", "API_BASE_URL is set"
    return "embedded", "no CUDA GPU with lmdeploy and no API_BASE_URL"


def check_backend(config: Config) -> None:
    if config.backend != "auto" and config.backend not in ENGINES:
        raise ConfigError(f"BACKEND must be one of auto, {', '.join(ENGINES)}, got '{config.backend}'")


def create_engine(config: Config, images: ImageStore, name: str | None = None) -> Engine:
    if name is None:
        name, why = choose_backend(config)
        log.info("engine: %s (%s)", name, why)
    factory = ENGINES.get(name)
    if factory is None:
        raise ConfigError(f"BACKEND must be one of auto, {', '.join(ENGINES)}, got '{name}'")
    return factory(config, images)


class LazyEngine:
    """The run's engine, loaded on first use (a fully journaled run loads none) and closed at the end."""

    def __init__(self, config: Config):
        self.config = config
        self.engine: Engine | None = None
        self.info: dict[str, Any] = {"backend": "none", "note": "every request was finished by an earlier run"}

    def __call__(self) -> Engine:
        if self.engine is None:
            self.engine = create_engine(self.config, ImageStore(self.config.max_image_side))
            self.info = self.engine.describe()
            log.info("engine settings: %s", self.info)
        return self.engine

    def __enter__(self) -> LazyEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine is not None:
            self.engine.close()
