"""The run's engine: chosen once from ``BACKEND`` (utilities/engines/ keeps the registry), loaded on first use.

Each backend imports its library (lmdeploy, llama.cpp) only when it is built,
so the dry run and the tests never load them.
"""

from __future__ import annotations

from typing import Any

from utilities import engines
from utilities.config import Config
from utilities.engines.base import Engine, ImageStore
from utilities.logger import get_logger

log = get_logger(__name__)


def choose_backend(config: Config) -> tuple[str, str]:
    """(engine name, why) for the configured BACKEND."""
    return engines.choose(config.run.backend, config.section)


def create_engine(config: Config, images: ImageStore, name: str | None = None) -> Engine:
    """The named engine, or the one BACKEND chooses (said in the log)."""
    if name is None:
        name, why = choose_backend(config)
        log.info("engine: %s (%s)", name, why)
    return engines.create(name, config.section, images)


class LazyEngine:
    """The run's engine, chosen once (``backend``: name and why), loaded on first use (a fully journaled run
    loads none) and closed at the end."""

    def __init__(self, config: Config, backend: tuple[str, str]):
        self.config = config
        self.name, self.why = backend
        self.engine: Engine | None = None
        self.info: dict[str, Any] = {"backend": "none", "note": "every request was finished by an earlier run"}

    def __call__(self) -> Engine:
        if self.engine is None:
            log.info("engine: %s (%s)", self.name, self.why)
            self.engine = create_engine(self.config, ImageStore(self.config.plan.max_image_side), self.name)
            self.info = self.engine.describe()
            log.info("engine settings: %s", self.info)
        return self.engine

    def __enter__(self) -> LazyEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine is not None:
            self.engine.close()
