"""Engine backends, one module each, and the registry that names them.

An engine is a class that declares itself (simonw/llm's ``register_models`` is the model):

- ``name``: its ``BACKEND`` value;
- ``Options``: the settings model of its concern (utilities/config.py reads it into the run's config);
- ``auto_reason(options)``: why ``BACKEND=auto`` picks it, or None when it cannot run here;
  ``auto`` takes the first registered engine that gives a reason;
- ``verifies_by_default``: whether ``VERIFY=auto`` runs the verifiers with it;
- ``packages``: the libraries whose versions ``--version`` shows;

and implements ``base.Engine``. ``register`` adds one; a new engine is its module and one
``register`` line below (the order ``auto`` tries them), or a call from a plugin or a test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from utilities.engines.base import Engine, ImageStore
from utilities.engines.embedded import EmbeddedEngine
from utilities.engines.lmdeploy_engine import LmdeployEngine
from utilities.engines.openai_compat import OpenAIEngine
from utilities.errors import ConfigError

Factory = Callable[[Any, ImageStore], Engine]  # (the engine's options, or None without Options; images)
Options = Callable[[type], Any]  # a settings model class -> the run's values of it (``Config.section``)

DECLARED = ("name", "auto_reason", "verifies_by_default", "packages")

ENGINES: dict[str, Any] = {}  # name -> engine class, in registration order
_FACTORIES: dict[str, Factory] = {}


def register(engine: Any, factory: Factory | None = None) -> None:
    """Add an engine class; ``factory`` builds it (default: the class, from its ``Options``)."""
    missing = [attribute for attribute in DECLARED if not hasattr(engine, attribute)]
    if factory is None and not hasattr(engine, "Options"):
        missing.append("Options")
    if missing:
        raise TypeError(f"engine {engine!r} does not declare {', '.join(missing)}")
    ENGINES[engine.name] = engine
    _FACTORIES[engine.name] = factory or engine


def unregister(name: str) -> None:
    ENGINES.pop(name, None)
    _FACTORIES.pop(name, None)


def _options(engine: Any, options: Options) -> Any:
    return options(engine.Options) if hasattr(engine, "Options") else None


def check_name(backend: str) -> None:
    if backend != "auto" and backend not in ENGINES:
        raise ConfigError(f"BACKEND must be one of auto, {', '.join(ENGINES)}, got '{backend}'")


def choose(backend: str, options: Options) -> tuple[str, str]:
    """(engine name, why) for a ``BACKEND`` value: the named engine, or for ``auto`` the first that can run."""
    check_name(backend)
    if backend != "auto":
        return backend, "BACKEND is set"
    for name, engine in ENGINES.items():
        if (why := engine.auto_reason(_options(engine, options))) is not None:
            return name, why
    raise ConfigError(f"BACKEND=auto found no engine that can run here among {', '.join(ENGINES)}")


def create(name: str, options: Options, images: ImageStore) -> Engine:
    check_name(name)
    return _FACTORIES[name](_options(ENGINES[name], options), images)


def verifies_by_default(name: str) -> bool:
    return ENGINES[name].verifies_by_default


for _engine in (LmdeployEngine, OpenAIEngine, EmbeddedEngine):
    register(_engine)
