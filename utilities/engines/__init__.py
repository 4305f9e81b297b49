"""Engine backends, one module each; ``BUILT_IN_ENGINES`` is the one list of them.

Each engine class has a ``name`` and an ``Options`` model that declares its settings:
utilities/config.py reads them into the run's config, utilities/api_utils.py builds
the engine from them. Adding an engine is its module and one entry here.
"""

from utilities.engines.embedded import EmbeddedEngine
from utilities.engines.lmdeploy_engine import LmdeployEngine
from utilities.engines.openai_compat import OpenAIEngine

BUILT_IN_ENGINES = (LmdeployEngine, OpenAIEngine, EmbeddedEngine)
