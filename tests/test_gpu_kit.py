"""The GPU kit's parts that run without a GPU: the lock, the split and join, the checkpoint's shape, the .env.

Nothing here downloads: the committed lock and requirements are read as they
are, and split/join run on small files under tmp_path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import zipfile
from pathlib import Path

import pytest

from utilities.config import load_config
from utilities.engines.lmdeploy_engine import LmdeploySettings

GPU_KIT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, GPU_KIT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


kit = _load("kit")
sys.path.insert(0, str(GPU_KIT))  # prepare.py imports kit by name, as it does when run
prepare = _load("prepare")

MIB = 1024 * 1024


def _artifact_dict(name: str, data: bytes) -> dict:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _write_lock(path: Path, parts: list[dict], bundle: dict, wheels: list[dict] | None = None) -> Path:
    wheels = wheels if wheels is not None else [_artifact_dict("a-1-py3-none-any.whl", b"w")]
    path.write_text(json.dumps({"bundle": bundle, "parts": parts, "wheels": wheels}))
    return path


# The committed lock and pins


def test_committed_lock_travels_in_one_device_call():
    lock = kit.read_lock()
    assert len(lock.parts) == 1  # lmdeploy without TurboMind's library: the PyTorch engine in one call
    assert sum(p.size for p in lock.parts) == lock.bundle.size
    # each part travels with the working tree (a few MiB) under the device's 64 MiB per call
    assert all(p.size <= 64 * MIB - 4 * MIB for p in lock.parts)
    assert [p.name for p in lock.parts] == [kit.part_name(kit.BUNDLE_NAME, i + 1) for i in range(len(lock.parts))]


def test_committed_lock_holds_exactly_the_pinned_wheels():
    """A pin edited without rerunning prepare.py would install something else than the lock says."""

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "_", name).lower()

    pins = {normal(pin.split("==")[0]): pin.split("==")[1] for pin in prepare.read_pins()}
    wheels = {normal(w.name.split("-")[0]): w.name.split("-")[1] for w in kit.read_lock().wheels}
    assert wheels == pins
    assert "lmdeploy" in pins and pins["lmdeploy"] == "0.18.0"


@pytest.mark.parametrize("line", ["lmdeploy>=0.18", "xgrammar", "==1.0"])
def test_read_pins_refuses_anything_but_exact_pins(tmp_path, line):
    path = tmp_path / "requirements-device.txt"
    path.write_text(f"# comment\nlmdeploy==0.18.0\n{line}\n")
    with pytest.raises(kit.KitError, match=r"requirements-device\.txt:3: expected name==version"):
        prepare.read_pins(path)


def _wheel(path: Path, entries: dict[str, bytes], date: tuple) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in entries.items():
            wheel.writestr(zipfile.ZipInfo(name, date_time=date), data)
    return path


LMDEPLOY_ENTRIES = {
    "lmdeploy/turbomind/_turbomind.cpython-312-x86_64-linux-gnu.so": b"\x7fELF" * 1000,
    "lmdeploy/turbomind/lib64/libxgrammar.a": b"!<arch>" * 1000,
    "lmdeploy/turbomind/turbomind.py": b"from . import _turbomind\n",
    "lmdeploy/pytorch/engine/engine.py": b"class Engine: ...\n",
    "lmdeploy-0.18.0.dist-info/RECORD": (
        b"lmdeploy/turbomind/_turbomind.cpython-312-x86_64-linux-gnu.so,sha256=a,4000\n"
        b"lmdeploy/turbomind/lib64/libxgrammar.a,sha256=b,7000\n"
        b"lmdeploy/turbomind/turbomind.py,sha256=c,25\n"
        b"lmdeploy/pytorch/engine/engine.py,sha256=d,18\n"
    ),
}


def test_without_turbomind_drops_only_turbominds_library_and_its_record_lines(tmp_path):
    wheel = prepare.without_turbomind(_wheel(tmp_path / "lmdeploy.whl", LMDEPLOY_ENTRIES, (2026, 9, 28, 8, 5, 0)))
    with zipfile.ZipFile(wheel) as slim:
        names = slim.namelist()
        record = slim.read("lmdeploy-0.18.0.dist-info/RECORD").decode()
        # stored, not deflated: another machine's zlib would write other bytes than the lock's sha256
        assert {info.compress_type for info in slim.infolist()} == {zipfile.ZIP_STORED}
        assert slim.read("lmdeploy/turbomind/turbomind.py") == LMDEPLOY_ENTRIES["lmdeploy/turbomind/turbomind.py"]
    assert names == ["lmdeploy/turbomind/turbomind.py", "lmdeploy/pytorch/engine/engine.py", names[2]]
    assert record.splitlines() == [
        "lmdeploy/turbomind/turbomind.py,sha256=c,25",
        "lmdeploy/pytorch/engine/engine.py,sha256=d,18",
    ]


# Lock parsing


def test_read_lock_round_trips_what_prepare_writes(tmp_path):
    part = kit.Artifact("b.tar.part1", 3, "a" * 64)
    lock = kit.Lock(
        wheels=(kit.Artifact("x.whl", 3, "b" * 64),), parts=(part,), bundle=kit.Artifact("b.tar", 3, "c" * 64)
    )
    path = tmp_path / "wheels.lock"
    path.write_text(lock.to_json())
    assert kit.read_lock(path) == lock


@pytest.mark.parametrize(
    ("parts", "bundle", "message"),
    [
        ([{"name": "p1", "size": 2, "sha256": "0" * 64}], {"name": "b", "size": 3, "sha256": "0" * 64}, "add up to 2"),
        ([{"name": "p1", "size": 3, "sha256": "0" * 63}], {"name": "b", "size": 3, "sha256": "0" * 64}, "64 hex"),
        ([{"name": "p1", "size": 3}], {"name": "b", "size": 3, "sha256": "0" * 64}, "missing 'sha256'"),
        ([], {"name": "b", "size": 0, "sha256": "0" * 64}, "no parts"),
        (
            [{"name": "big", "size": kit.PART_BYTES + 1, "sha256": "0" * 64}],
            {"name": "b", "size": kit.PART_BYTES + 1, "sha256": "0" * 64},
            "part big is over",
        ),
    ],
)
def test_read_lock_names_the_file_and_the_problem(tmp_path, parts, bundle, message):
    path = _write_lock(tmp_path / "wheels.lock", parts, bundle)
    with pytest.raises(kit.KitError, match=re.escape(message)) as error:
        kit.read_lock(path)
    assert str(path) in str(error.value)


def test_read_lock_refuses_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "wheels.lock"
    path.write_text("lmdeploy==0.18.0\n")
    with pytest.raises(kit.KitError, match="not a readable JSON lock"):
        kit.read_lock(path)


# Split and join


@pytest.fixture
def split(tmp_path):
    """A 10,000-byte bundle cut into 3,000-byte parts, and its lock."""
    data = (bytes(range(256)) * 40)[:10_000]
    bundle = tmp_path / "wheels.tar"
    bundle.write_bytes(data)
    paths = kit.split_file(bundle, tmp_path / "parts", part_bytes=3000)
    parts = tuple(kit.artifact_of(p) for p in paths)
    lock = kit.Lock(wheels=(kit.Artifact("x.whl", 1, "0" * 64),), parts=parts, bundle=kit.artifact_of(bundle))
    return data, paths, lock


def test_split_cuts_in_order_into_parts_of_at_most_the_size(split):
    data, paths, _ = split
    assert [p.name for p in paths] == ["wheels.tar.part1", "wheels.tar.part2", "wheels.tar.part3", "wheels.tar.part4"]
    assert [p.stat().st_size for p in paths] == [3000, 3000, 3000, len(data) - 9000]
    assert b"".join(p.read_bytes() for p in paths) == data


def test_join_rebuilds_the_bundle_byte_for_byte(split, tmp_path):
    data, paths, lock = split
    joined = kit.join_parts(paths[0].parent, lock, tmp_path / "out" / "wheels.tar")
    assert joined.read_bytes() == data


def test_join_names_a_corrupted_part(split, tmp_path):
    _, paths, lock = split
    damaged = bytearray(paths[2].read_bytes())
    damaged[100] ^= 0xFF
    paths[2].write_bytes(bytes(damaged))
    with pytest.raises(kit.KitError, match=r"wheels\.tar\.part3: sha256 .* differs from the lock"):
        kit.join_parts(paths[0].parent, lock, tmp_path / "joined.tar")
    assert not (tmp_path / "joined.tar").exists()


def test_join_names_a_short_or_missing_part(split, tmp_path):
    _, paths, lock = split
    paths[1].write_bytes(paths[1].read_bytes()[:-1])
    with pytest.raises(kit.KitError, match=r"wheels\.tar\.part2: 2999 bytes, the lock says 3000"):
        kit.join_parts(paths[0].parent, lock, tmp_path / "joined.tar")
    assert kit.missing_parts(paths[0].parent, lock) == ["wheels.tar.part2"]
    paths[3].unlink()
    assert kit.missing_parts(paths[0].parent, lock) == ["wheels.tar.part2", "wheels.tar.part4"]
    with pytest.raises(kit.KitError, match=r"part4: missing"):
        kit.check_artifact(paths[3], lock.parts[3])


def test_bundle_is_the_same_bytes_for_the_same_wheels(tmp_path):
    """The committed lock stays valid when another machine downloads the same pins."""
    wheels = []
    for name in ("b-1-py3-none-any.whl", "a-1-py3-none-any.whl"):
        (tmp_path / name).write_bytes(name.encode() * 100)
        os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
        wheels.append(tmp_path / name)
    first = prepare.bundle(sorted(wheels), tmp_path / "one.tar")
    for wheel in wheels:
        wheel.chmod(0o600)
        os.utime(wheel, (2_000_000_000, 2_000_000_000))  # a later download: new mtimes and modes, same bytes
    second = prepare.bundle(sorted(wheels), tmp_path / "two.tar")
    assert kit.sha256_of(first) == kit.sha256_of(second)


# The tiny checkpoint's config


@pytest.fixture(scope="module")
def spec():
    return kit.read_checkpoint_spec()


def test_checkpoint_names_architectures_lmdeploy_0_18_supports(spec):
    # lmdeploy 0.18.0: archs.py check_vl_llm lists InternVLChatModel; turbomind/supported_models.py maps
    # InternVLChatModel='internvl' and Qwen2ForCausalLM='qwen2'; pytorch/models/module_map.py has both.
    assert spec["architectures"] == ["InternVLChatModel"]
    assert spec["llm_config"]["architectures"] == ["Qwen2ForCausalLM"]
    assert spec["auto_map"]["AutoConfig"] == "configuration_internvl_chat.InternVLChatConfig"
    assert (GPU_KIT / "configuration_internvl_chat.py").is_file()
    # turbomind/models/internvl.py refuses a legacy InternVLChatModel without ps_version 'v2'
    assert spec["ps_version"] == "v2"


def test_checkpoint_head_sizes_divide_and_match_the_kernels(spec):
    llm, vision = spec["llm_config"], spec["vision_config"]
    assert llm["hidden_size"] % llm["num_attention_heads"] == 0
    assert llm["num_attention_heads"] % llm["num_key_value_heads"] == 0
    assert llm["hidden_size"] // llm["num_attention_heads"] in (64, 128)  # InternVL3's LLMs use 128
    assert vision["hidden_size"] % vision["num_attention_heads"] == 0
    assert vision["hidden_size"] // vision["num_attention_heads"] in (64, 128)


def test_checkpoint_tiles_make_256_image_tokens_like_internvl3(spec):
    """saturation.py counts 256 <IMG_CONTEXT> per tile, as lmdeploy does for InternVL3 (448 px, patch 14, 0.5)."""
    vision = spec["vision_config"]
    assert vision["image_size"] == spec["force_image_size"] == 448
    per_tile = (vision["image_size"] // vision["patch_size"]) ** 2 * spec["downsample_ratio"] ** 2
    assert per_tile == 256


def test_checkpoint_vocab_holds_the_special_tokens_and_every_byte(spec):
    llm = spec["llm_config"]
    for token in ("<img>", "</img>", "<IMG_CONTEXT>", "<|im_start|>", "<|im_end|>"):
        assert token in kit.SPECIAL_TOKENS
    assert len(set(kit.SPECIAL_TOKENS)) == len(kit.SPECIAL_TOKENS)
    assert kit.SPECIAL_TOKENS[llm["eos_token_id"]] == "<|im_end|>"
    assert kit.SPECIAL_TOKENS[llm["bos_token_id"]] == "<|endoftext|>"
    assert llm["vocab_size"] >= len(kit.SPECIAL_TOKENS) + 256  # the byte-level alphabet


def test_checkpoint_tensors_have_the_shapes_lmdeploy_builds(spec):
    shapes = kit.checkpoint_tensors(spec)
    llm, vision = spec["llm_config"], spec["vision_config"]
    d, h = vision["hidden_size"], llm["hidden_size"]
    assert shapes["vision_model.embeddings.position_embedding"] == (1, 32 * 32 + 1, d)
    assert shapes["vision_model.encoder.layers.1.attn.qkv.weight"] == (3 * d, d)
    assert shapes["mlp1.1.weight"] == (h, 4 * d)  # pixel shuffle: 2x2 patches per token
    kv = llm["num_key_value_heads"] * h // llm["num_attention_heads"]
    assert shapes["language_model.model.layers.1.self_attn.k_proj.weight"] == (kv, h)
    assert shapes["language_model.lm_head.weight"] == (llm["vocab_size"], h)
    assert f"language_model.model.layers.{llm['num_hidden_layers']}.mlp.up_proj.weight" not in shapes
    parameters = sum(_product(shape) for shape in shapes.values())
    assert 1_000_000 < parameters < 10_000_000  # built in seconds, fits any GPU many times over


def _product(shape: tuple[int, ...]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


# The .env of a run


@pytest.mark.parametrize("engine", ["turbomind", "pytorch"])
def test_run_settings_are_accepted_by_the_projects_config(tmp_path, engine):
    env = tmp_path / "env"
    settings = kit.run_settings(tmp_path / "tiny-internvl3", engine, tmp_path / "docs", tmp_path / "out")
    env.write_text(kit.env_text(settings))
    config = load_config(["--env-file", str(env)], {})
    lmdeploy = config.section(LmdeploySettings)
    assert config.run.backend == "lmdeploy" and lmdeploy.engine == engine
    assert lmdeploy.model == str(tmp_path / "tiny-internvl3") and lmdeploy.model_format == "hf"
    assert config.run.output_dir == tmp_path / "out" and config.run.markdown_docs_dir == tmp_path / "docs"
    assert config.sampling.max_new_tokens == 512 and lmdeploy.cache_max_entry_count == 0.5


def test_env_text_refuses_a_value_that_would_break_the_file():
    with pytest.raises(kit.KitError, match="'MODEL'"):
        kit.env_text({"MODEL": "a\nBACKEND=openai"})


# saturation.py's pipeline side, against the project's generation as it is now


def test_saturation_pipeline_side_runs_the_projects_generate_all(tmp_path):
    """The device run of issue 20 stopped here: saturation.py still unpacked generate_all's old
    (outcomes, stats) and passed no on_final, so the measurement died after loading the engine."""
    from utilities.engines.fake import FakeEngine

    from .helpers import valid_reply

    saturation = _load("saturation")
    env = tmp_path / "env"
    docs = Path(__file__).resolve().parent.parent / "markdown_docs"
    env.write_text(kit.env_text(kit.run_settings(tmp_path / "tiny-internvl3", "pytorch", docs, tmp_path / "out")))
    _config, planned, build = saturation.load(str(env), 4)
    assert len(planned) == 4
    engine = FakeEngine(default=valid_reply)
    seconds, tokens = saturation.run_pipeline(engine, planned, build)
    assert seconds > 0 and tokens > 0
