"""The GPU kit's pure parts: the wheel lock, the bundle split into carried parts, the tiny checkpoint's shape.

Standard library only, so the project's tests import it on any machine and the
device runs it before anything is installed. ``prepare.py`` (here) and
``run_on_device.py`` (on the GPU machine) do the downloading, installing and
running; what they agree on lives here.

The wheels travel as one uncompressed tar (wheels are zips already), cut into
parts of at most ``PART_BYTES``: one part per device call, because a call
carries at most 64 MiB with the working tree. Every part and every wheel has a
sha256 in the committed lock, so a part that arrived short or from an older
prepare is named, not installed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

# A call carries at most 64 MiB including the working tree (~2.3 MiB): leave room for both.
PART_BYTES = 58 * 1024 * 1024
BUNDLE_NAME = "wheels.tar"
LOCK_PATH = Path(__file__).with_name("wheels.lock")
CHECKPOINT_SPEC_PATH = Path(__file__).with_name("tiny_internvl3.json")
# The tokenizer's special tokens, in id order from 0: Qwen2's chat markers, then InternVL's image and grounding tokens.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<img>",
    "</img>",
    "<IMG_CONTEXT>",
    "<quad>",
    "</quad>",
    "<ref>",
    "</ref>",
    "<box>",
    "</box>",
)


class KitError(Exception):
    """A lock, part or spec that does not say what the kit needs; the message names the file."""


@dataclass(frozen=True)
class Artifact:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Lock:
    wheels: tuple[Artifact, ...]  # inside the bundle, installed with --no-deps
    parts: tuple[Artifact, ...]  # the bundle cut in order: parts[0] travels with call 1
    bundle: Artifact

    def to_json(self) -> str:
        def rows(items: tuple[Artifact, ...]) -> list[dict]:
            return [{"name": a.name, "size": a.size, "sha256": a.sha256} for a in items]

        data = {"bundle": rows((self.bundle,))[0], "parts": rows(self.parts), "wheels": rows(self.wheels)}
        return json.dumps(data, indent=2) + "\n"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_of(path: Path) -> Artifact:
    return Artifact(path.name, path.stat().st_size, sha256_of(path))


def _artifact(entry: object, where: str) -> Artifact:
    if not isinstance(entry, dict):
        raise KitError(f"{where}: expected an object with name, size, sha256, got {entry!r}")
    try:
        name, size, digest = entry["name"], entry["size"], entry["sha256"]
    except KeyError as exc:
        raise KitError(f"{where}: missing {exc.args[0]!r}") from None
    if not isinstance(size, int) or size < 0 or not isinstance(digest, str) or len(digest) != 64:
        raise KitError(f"{where}: size must be a byte count and sha256 64 hex digits, got {size!r}, {digest!r}")
    return Artifact(str(name), size, digest.lower())


def read_lock(path: Path = LOCK_PATH) -> Lock:
    """The committed lock; the parts must add up to the bundle, and none may be over PART_BYTES."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KitError(f"{path}: not a readable JSON lock ({exc})") from None
    bundle = _artifact(data.get("bundle"), f"{path}: bundle")
    parts = tuple(_artifact(p, f"{path}: parts[{i}]") for i, p in enumerate(data.get("parts") or []))
    wheels = tuple(_artifact(w, f"{path}: wheels[{i}]") for i, w in enumerate(data.get("wheels") or []))
    if not parts or not wheels:
        raise KitError(f"{path}: lists no parts or no wheels")
    if sum(p.size for p in parts) != bundle.size:
        raise KitError(f"{path}: parts add up to {sum(p.size for p in parts)} bytes, the bundle has {bundle.size}")
    too_big = [p.name for p in parts if p.size > PART_BYTES]
    if too_big:
        raise KitError(f"{path}: part {too_big[0]} is over {PART_BYTES} bytes and cannot travel in one call")
    return Lock(wheels=wheels, parts=parts, bundle=bundle)


def part_name(bundle: str, index: int) -> str:
    """The file name of part ``index`` (from 1): ``part_name('wheels.tar', 2) == 'wheels.tar.part2'``."""
    return f"{bundle}.part{index}"


def split_file(source: Path, folder: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """Cut ``source`` into ``folder/<name>.part1, .part2, ...`` of at most part_bytes each."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with source.open("rb") as handle:
        for index, block in enumerate(iter(lambda: handle.read(part_bytes), b""), start=1):
            path = folder / part_name(source.name, index)
            path.write_bytes(block)
            paths.append(path)
    return paths


def check_artifact(path: Path, expected: Artifact) -> None:
    """Raise KitError naming the file when it is missing or its size or sha256 differ from the lock."""
    if not path.is_file():
        raise KitError(f"{path}: missing (the lock lists {expected.name}, {expected.size} bytes)")
    size = path.stat().st_size
    if size != expected.size:
        raise KitError(f"{path}: {size} bytes, the lock says {expected.size}: carried from another prepare?")
    digest = sha256_of(path)
    if digest != expected.sha256:
        raise KitError(f"{path}: sha256 {digest} differs from the lock's {expected.sha256}")


def join_parts(folder: Path, lock: Lock, destination: Path) -> Path:
    """Check every part in ``folder`` against the lock, concatenate them, check the bundle; return it."""
    for part in lock.parts:
        check_artifact(folder / part.name, part)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as out:
        for part in lock.parts:
            out.write((folder / part.name).read_bytes())
    check_artifact(destination, lock.bundle)
    return destination


def missing_parts(folder: Path, lock: Lock) -> list[str]:
    """Names of the lock's parts not yet stashed in ``folder`` (checked by size only: cheap, before joining)."""
    return [p.name for p in lock.parts if not (folder / p.name).is_file() or (folder / p.name).stat().st_size != p.size]


def env_text(settings: dict[str, str]) -> str:
    """A .env file the project's config reads (KEY=value lines; values must be single-line)."""
    bad = [key for key, value in settings.items() if "\n" in value or not key.isupper()]
    if bad:
        raise KitError(f"setting {bad[0]!r} cannot be written to a .env file")
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def read_checkpoint_spec(path: Path = CHECKPOINT_SPEC_PATH) -> dict:
    """The tiny InternVL3 config.json (legacy InternVLChatModel layout), as committed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KitError(f"{path}: not a readable checkpoint config ({exc})") from None


def checkpoint_tensors(spec: dict) -> dict[str, tuple[int, ...]]:
    """Every weight lmdeploy loads for a legacy InternVLChatModel, with its shape.

    The names are the HF InternVL-Chat ones that lmdeploy 0.18.0 maps in
    turbomind/models/internvl.py (``map_legacy_internvl_keys``) and loads in
    pytorch/models/internvl.py (``InternVLChatModel.load_weights``).
    """
    vision, llm = spec["vision_config"], spec["llm_config"]
    d, patch, image = vision["hidden_size"], vision["patch_size"], vision["image_size"]
    shapes: dict[str, tuple[int, ...]] = {
        "vision_model.embeddings.class_embedding": (1, 1, d),
        "vision_model.embeddings.patch_embedding.weight": (d, vision["num_channels"], patch, patch),
        "vision_model.embeddings.patch_embedding.bias": (d,),
        "vision_model.embeddings.position_embedding": (1, (image // patch) ** 2 + 1, d),
    }
    for i in range(vision["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{i}."
        shapes.update({p + "ls1": (d,), p + "ls2": (d,)})
        shapes.update({p + f"{norm}.{kind}": (d,) for norm in ("norm1", "norm2") for kind in ("weight", "bias")})
        shapes.update({p + "attn.qkv.weight": (3 * d, d), p + "attn.qkv.bias": (3 * d,)})
        shapes.update({p + "attn.proj.weight": (d, d), p + "attn.proj.bias": (d,)})
        shapes.update(
            {p + "mlp.fc1.weight": (vision["intermediate_size"], d), p + "mlp.fc1.bias": (vision["intermediate_size"],)}
        )
        shapes.update({p + "mlp.fc2.weight": (d, vision["intermediate_size"]), p + "mlp.fc2.bias": (d,)})
    merged = d * int(1 / spec["downsample_ratio"]) ** 2  # pixel shuffle folds 2x2 patches into one token
    h = llm["hidden_size"]
    shapes.update({"mlp1.0.weight": (merged,), "mlp1.0.bias": (merged,)})
    shapes.update({"mlp1.1.weight": (h, merged), "mlp1.1.bias": (h,), "mlp1.3.weight": (h, h), "mlp1.3.bias": (h,)})
    shapes.update(_qwen2_tensors(llm))
    return shapes


def _qwen2_tensors(llm: dict) -> dict[str, tuple[int, ...]]:
    h, inter, vocab = llm["hidden_size"], llm["intermediate_size"], llm["vocab_size"]
    head_dim = h // llm["num_attention_heads"]
    q, kv = llm["num_attention_heads"] * head_dim, llm["num_key_value_heads"] * head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "language_model.model.embed_tokens.weight": (vocab, h),
        "language_model.model.norm.weight": (h,),
        "language_model.lm_head.weight": (vocab, h),
    }
    for i in range(llm["num_hidden_layers"]):
        p = f"language_model.model.layers.{i}."
        shapes.update({p + "self_attn.q_proj.weight": (q, h), p + "self_attn.q_proj.bias": (q,)})
        shapes.update({p + f"self_attn.{n}_proj.weight": (kv, h) for n in ("k", "v")})
        shapes.update({p + f"self_attn.{n}_proj.bias": (kv,) for n in ("k", "v")})
        shapes.update({p + "self_attn.o_proj.weight": (h, q)})
        shapes.update({p + "mlp.gate_proj.weight": (inter, h), p + "mlp.up_proj.weight": (inter, h)})
        shapes.update({p + "mlp.down_proj.weight": (h, inter)})
        shapes.update({p + "input_layernorm.weight": (h,), p + "post_attention_layernorm.weight": (h,)})
    return shapes


def run_settings(model: Path, engine: str, docs: Path, output: Path) -> dict[str, str]:
    """The .env of a kit run: the tiny checkpoint on one GPU with the given lmdeploy engine, replies capped at
    512 tokens so a random-weight model's rambling fits a 10-minute device call."""
    return {
        "BACKEND": "lmdeploy",
        "MODEL": str(model),
        "MODEL_FORMAT": "hf",
        "LMDEPLOY_ENGINE": engine,
        "NUM_GPUS": "1",
        "MARKDOWN_DOCS_DIR": str(docs),
        "OUTPUT_DIR": str(output),
        "MAX_NEW_TOKENS": "512",
        "CACHE_MAX_ENTRY_COUNT": "0.5",
        "PROGRESS": "off",
        "LOG_LEVEL": "INFO",
    }
