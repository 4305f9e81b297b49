"""Prompt assembly: a template per type, prefix-friendly order, schema per request."""

from __future__ import annotations

import dataclasses
import json
import os
import re

import pytest

from generate_synthetic_data import main
from models.question_types import QUESTION_TYPE_SPECS, QuestionType
from models.schemas import MAX_TERM_CHARS, ReplyLimits
from utilities.engines.base import EngineResult, ImageStore, TextPart, openai_messages
from utilities.engines.lmdeploy_engine import generation_config
from utilities.errors import ConfigError
from utilities.file_utils import load_documents
from utilities.planner import plan_requests
from utilities.prompts import PROMPTS_DIR, PromptLibrary, SamplingSettings, attempt_seed, build_request
from utilities.quality import normalize
from utilities.replies import parse_reply
from utilities.type_forms import type_form_reason

from .helpers import write_small_doc


@pytest.fixture
def built(docs_dir):
    write_small_doc(docs_dir)
    document = load_documents(docs_dir).documents[0]
    library = PromptLibrary.load()
    planned = plan_requests(document, tuple(QuestionType), 3)
    root = docs_dir.resolve()
    return [build_request(document, p, library, SamplingSettings(), ReplyLimits(), root) for p in planned]


def text_of(request) -> str:
    return "".join(p.text for p in request.parts if isinstance(p, TextPart))


@pytest.mark.parametrize("qt", list(QuestionType))
def test_every_type_has_a_template_that_uses_n_pairs(qt):
    template = (PROMPTS_DIR / f"{qt.value}.md").read_text()
    assert "$n_pairs" in template


def test_system_prompt_is_domain_neutral_and_demands_self_contained_questions():
    system = PromptLibrary.load().system.lower()
    assert "traffic" not in system and "signal" not in system
    for phrase in ('"the document"', '"this section"', '"the figure above"'):
        assert phrase in system


def test_requests_of_one_section_share_the_prefix_up_to_the_task(built):
    first_section = [b for b in built if b.planned.section_index == 0]
    assert len(first_section) >= 13
    texts = [text_of(b.engine_request) for b in first_section]
    common = os.path.commonprefix(texts)  # noqa: RUF071 - a character prefix is the point
    section_text = first_section[0].context[0]
    unmarked = re.sub(r"\[\d+\] ", "", common)
    assert section_text in unmarked, "the section itself, with its sentence marks, is in the shared prefix"
    assert all(f"[{n}] " in common for n in range(1, len(first_section[0].quotes) + 1))
    for text in texts:
        assert text.rstrip().rfind("# Task") > text.find(section_text)


def test_pair_types_carry_a_second_section_and_figures_are_an_enum(built):
    multi_hop = next(b for b in built if b.planned.question_type is QuestionType.MULTI_HOP_REASONING)
    text = text_of(multi_hop.engine_request)
    assert text.count("## Section:") == 1 and text.count("## Related section:") == 1
    assert len(multi_hop.context) == 2
    figures = multi_hop.engine_request.schema["properties"]["pairs"]["items"]["properties"]["figures"]
    assert figures["items"]["enum"] == ["FIGURE_1.1"]
    assert [p.figure_id for p in multi_hop.engine_request.images] == ["FIGURE_1.1"]


def reasoning(built):
    """The first request of a type whose pairs have reasoning steps."""
    return next(b for b in built if QUESTION_TYPE_SPECS[b.planned.question_type].form.reasoning)


def test_schema_bounds_every_string(built):
    pair = built[0].engine_request.schema["properties"]["pairs"]["items"]["properties"]
    assert pair["question"]["maxLength"] and pair["answer"]["maxLength"]
    steps = reasoning(built).engine_request.schema["properties"]["pairs"]["items"]["properties"]["reasoning_steps"]
    assert steps["items"]["maxLength"]
    choices = pair["evidence"]["items"]["enum"]
    assert choices == list(range(1, len(built[0].quotes) + 1)), "evidence cites sentence ids"
    section = built[0].context[0]
    assert all(normalize(q) in normalize(section) for q in built[0].quotes), "every citable sentence is verbatim"
    assert built[0].engine_request.schema["properties"]["pairs"]["minItems"] == 3


def test_fields_are_in_decoding_order_evidence_first_answer_last(built):
    fields = list(reasoning(built).engine_request.schema["properties"]["pairs"]["items"]["properties"])
    assert fields == ["evidence", "figures", "question", "reasoning_steps", "answer"]


@pytest.mark.parametrize("qt", list(QuestionType))
def test_recall_types_have_no_reasoning_steps_and_the_others_do(built, qt):
    request = next(b for b in built if b.planned.question_type is qt)
    fields = request.engine_request.schema["properties"]["pairs"]["items"]["properties"]
    recall = qt in (QuestionType.FACTUAL_RECALL, QuestionType.FACT_BASED, QuestionType.TRUE_FALSE_FILL_BLANK)
    assert ("reasoning_steps" in fields) is not recall
    assert ("reasoning_steps" in text_of(request.engine_request).split("# Task")[-1]) is not recall


def test_a_recall_reply_parses_without_steps_and_one_with_steps_is_off_its_shape(built):
    request = next(b for b in built if b.planned.question_type is QuestionType.FACTUAL_RECALL)
    pair = {"evidence": [1], "figures": [], "question": "What bounds the blob base fee?", "answer": "A reserve price."}
    reply = {"pairs": [pair] * request.planned.n_pairs}
    parsed = parse_reply(request, EngineResult(text=json.dumps(reply), finish_reason="stop"))
    assert parsed.reason is None and parsed.pairs[0].reasoning_steps == ()
    with_steps = {"pairs": [{**pair, "reasoning_steps": ["Recall it."]}] * request.planned.n_pairs}
    off = parse_reply(request, EngineResult(text=json.dumps(with_steps), finish_reason="stop"))
    assert off.reason == "schema_violation"


def test_a_fill_in_the_blank_reply_names_a_sentence_and_its_term_and_the_item_is_built_from_them(built):
    request = next(b for b in built if b.planned.question_type is QuestionType.TRUE_FALSE_FILL_BLANK)
    fields = request.engine_request.schema["properties"]["pairs"]["items"]["properties"]
    assert list(fields) == ["evidence", "missing_term"]
    assert fields["evidence"]["minItems"] == fields["evidence"]["maxItems"] == 1
    n = next(i for i, q in enumerate(request.quotes, 1) if "BLOB_BASE_COST" in q)
    items = [{"evidence": [n], "missing_term": "blob_base_cost"}, {"evidence": [n], "missing_term": "gas limit"}]
    reply = {"pairs": (items * request.n_pairs)[: request.n_pairs]}
    first, second = parse_reply(request, EngineResult(text=json.dumps(reply), finish_reason="stop")).pairs[:2]
    sentence = request.quotes[n - 1]
    assert first.question == "Fill in the blank: " + sentence.replace("BLOB_BASE_COST", "____")
    assert first.answer == "BLOB_BASE_COST" and first.evidence == (sentence,) and first.reasoning_steps == ()
    assert type_form_reason(QuestionType.TRUE_FALSE_FILL_BLANK, first.question, first.answer) is None
    # near miss: a term the sentence does not hold leaves no blank, and the item is rejected for its form
    assert second.question == "Fill in the blank: " + sentence and second.answer == "gas limit"
    assert "neither" in type_form_reason(QuestionType.TRUE_FALSE_FILL_BLANK, second.question, second.answer)
    two = {"pairs": [{**items[0], "evidence": [n, n + 1]}] * request.n_pairs}
    assert parse_reply(request, EngineResult(text=json.dumps(two), finish_reason="stop")).reason == "schema_violation"


@pytest.mark.parametrize("qt", list(QuestionType))
def test_prompt_states_every_field_description_and_bound_of_the_schema(built, qt):
    """The task names every field in the schema's order; each field's meaning and bounds are on one line,
    the task's own for its question and answer, the system prompt's reply shape for what all requests share."""
    request = next(b for b in built if b.planned.question_type is qt)
    text = text_of(request.engine_request)
    task = text[text.rindex("# Task") :]
    system = request.engine_request.system
    fields = request.engine_request.schema["properties"]["pairs"]["items"]["properties"]
    header = re.search(r"Reply with exactly (\d+) pair objects, each with the fields (.*), in this order", task)
    assert int(header.group(1)) == request.n_pairs
    assert re.findall(r'"(\w+)"', header.group(2)) == list(fields), "the fields in the schema's order"
    for name, node in fields.items():
        own = re.search(rf'^- "{name}": (.*)$', task, re.MULTILINE)
        line = own or re.search(rf'^- "{name}"[^:\n]*: (.*)$', system.split("# Reply shape")[1], re.MULTILINE)
        assert line and node["description"] in line.group(1), name
        own_fields = ("missing_term", "evidence") if QUESTION_TYPE_SPECS[qt].form.cloze else ("question", "answer")
        assert (own is not None) is (name in own_fields), "only the type's own fields are in the task"
        for bound in ("maxLength", "maxItems"):
            if bound in node and name != "figures":  # figures: as many as the prompt lists as attached
                assert str(node[bound]) in line.group(1), (name, bound)
    if QUESTION_TYPE_SPECS[qt].form.cloze:  # a term and its sentence: no figure, the term its own bound
        assert "figures" not in fields and fields["missing_term"]["maxLength"] == MAX_TERM_CHARS
        return
    assert len(re.findall(r"^- FIGURE_", text, re.MULTILINE)) == fields["figures"]["maxItems"]
    budget = QUESTION_TYPE_SPECS[qt].answer
    assert budget.length in task and fields["answer"]["maxLength"] == budget.max_chars


def test_every_request_of_a_run_has_the_same_system_prompt_with_the_reply_shape(built):
    """What the reply fields mean is stated once, in the system prompt every request shares as its cached prefix."""
    systems = {b.engine_request.system for b in built}
    assert len(systems) == 1 and len({b.planned.question_type for b in built}) == len(QuestionType)
    (system,) = systems
    assert system.startswith(PromptLibrary.load().system) and '- "evidence":' in system.split("# Reply shape")[1]


def test_sentence_marks_in_the_prompt_match_the_citable_quotes(built):
    request = next(b for b in built if b.planned.question_type is QuestionType.MULTI_HOP_REASONING)
    text = text_of(request.engine_request)
    assert request.quotes and len(request.quotes) == len(set(request.quotes))
    for n, quote in enumerate(request.quotes, 1):
        after = " ".join(text.split(f"[{n}] ", 1)[1].split())
        assert after.startswith(quote), (n, quote)
    assert f"[{len(request.quotes) + 1}]" not in text


def test_quotes_format_sends_sentences_and_no_marks(docs_dir):
    write_small_doc(docs_dir)
    document = load_documents(docs_dir).documents[0]
    planned = plan_requests(document, (QuestionType.FACTUAL_RECALL,), 2)[0]
    limits = ReplyLimits(evidence_format="quotes")
    built = build_request(document, planned, PromptLibrary.load(), SamplingSettings(), limits, docs_dir.resolve())
    items = built.engine_request.schema["properties"]["pairs"]["items"]["properties"]["evidence"]["items"]
    assert items["enum"] == list(built.quotes) and "[1]" not in text_of(built.engine_request)


def test_a_reply_citing_ids_is_expanded_to_sentences_and_marks_are_stripped(built):
    request = reasoning(built)
    reply = {
        "pairs": [
            {
                "evidence": [2, 1, 2],
                "figures": [],
                "question": "What bounds the blob base fee from below? [1]",
                "reasoning_steps": ["[1] states the reserve price."],
                "answer": "A reserve price bounds it [1].",
            }
        ]
        * request.planned.n_pairs
    }
    parsed = parse_reply(request, EngineResult(text=json.dumps(reply), finish_reason="stop"))
    assert parsed.reason is None, parsed.detail
    pair = parsed.pairs[0]
    assert pair.evidence == (request.quotes[1], request.quotes[0]), "ids expand in order, a repeat counts once"
    assert pair.question == "What bounds the blob base fee from below?"
    assert pair.answer == "A reserve price bounds it." and pair.reasoning_steps == ("states the reserve price.",)
    bad = json.loads(json.dumps(reply))
    bad["pairs"][0]["evidence"] = [len(request.quotes) + 1]
    assert parse_reply(request, EngineResult(text=json.dumps(bad), finish_reason="stop")).reason == "schema_violation"


def test_penalties_reach_each_engine_in_its_own_terms(built, docs_dir):
    from utilities.engines.embedded import build_payload
    from utilities.engines.openai_compat import OpenAIEngine, OpenAISettings

    request = dataclasses.replace(built[0].engine_request, repetition_penalty=1.15, frequency_penalty=0.4)
    assert generation_config(request)["repetition_penalty"] == 1.15
    payload = build_payload(request, None, cache_prompt=True)
    assert payload["repeat_penalty"] == 1.15 and payload["frequency_penalty"] == 0.4
    server = OpenAIEngine(OpenAISettings(base_urls=("http://127.0.0.1:9/v1",)), ImageStore(64))
    body = server.payload(request, json_object=False)
    assert body["repetition_penalty"] == 1.15 and body["frequency_penalty"] == 0.4
    off = dataclasses.replace(built[0].engine_request, repetition_penalty=1.0, frequency_penalty=0.0)
    plain = server.payload(off, json_object=False)
    assert "repetition_penalty" not in plain and "frequency_penalty" not in plain, "OpenAI's API refuses unknowns"


def test_seeds_differ_per_attempt_and_repeat_per_run():
    assert attempt_seed(42, "doc#1:INFERENCE", 0) == attempt_seed(42, "doc#1:INFERENCE", 0)
    assert attempt_seed(42, "doc#1:INFERENCE", 0) != attempt_seed(42, "doc#1:INFERENCE", 1)
    assert attempt_seed(42, "doc#1:INFERENCE", 0) != attempt_seed(42, "doc#2:INFERENCE", 0)


def test_custom_system_prompt_file(tmp_path):
    custom = tmp_path / "rules.md"
    custom.write_text("You write pairs about railway signalling. Use UK terms.")
    assert PromptLibrary.load(custom).system.startswith("You write pairs about railway")
    with pytest.raises(ConfigError, match="SYSTEM_PROMPT_FILE must be a readable file"):
        PromptLibrary.load(tmp_path / "missing.md")


def test_missing_or_broken_template_is_an_error_before_any_request(tmp_path, docs_dir, capsys):
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "system.md").write_text("system")
    for qt in QuestionType:
        (folder / f"{qt.value}.md").write_text("Write $n_pairs pairs.")
    assert PromptLibrary.load(folder=folder).templates
    (folder / "INFERENCE.md").write_text("Write $count pairs.")
    with pytest.raises(ConfigError, match=r"INFERENCE\.md has an unknown or bad placeholder"):
        PromptLibrary.load(folder=folder)
    (folder / "INFERENCE.md").unlink()
    with pytest.raises(ConfigError, match="prompt template for INFERENCE is missing"):
        PromptLibrary.load(folder=folder)
    write_small_doc(docs_dir)
    assert main(["--docs-dir", str(docs_dir), "--system-prompt-file", str(tmp_path / "nope.md")]) == 2
    assert f"SYSTEM_PROMPT_FILE must be a readable file, got '{tmp_path / 'nope.md'}'" in capsys.readouterr().err


def test_openai_messages_inline_images_as_data_urls(built, docs_dir):
    request = next(b.engine_request for b in built if b.engine_request.images)
    messages = openai_messages(request, ImageStore(256))
    assert messages[0] == {"role": "system", "content": request.system}
    kinds = [c["type"] for c in messages[1]["content"]]
    assert kinds.count("image_url") == 1 and kinds[0] == "text" and kinds[-1] == "text"
    url = next(c for c in messages[1]["content"] if c["type"] == "image_url")["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    text_only = openai_messages(request, None)
    assert isinstance(text_only[1]["content"], str) and "# Task" in text_only[1]["content"]


def test_a_corrupt_image_is_left_out_with_one_warning(tmp_path, caplog):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnope")
    store = ImageStore(256)
    with caplog.at_level("WARNING", logger="synthetic_data"):
        assert store.image(bad) is None and store.data_url(bad) is None
    assert sum("bad.png" in r.getMessage() for r in caplog.records) == 1


def test_the_image_caches_hold_a_byte_budget_not_a_count(tmp_path):
    """Memory must not grow with the corpus: only the most recent images within budget stay decoded."""
    from PIL import Image

    paths = []
    for i in range(10):
        paths.append(tmp_path / f"f{i}.png")
        Image.new("RGB", (64, 64), (i * 20, 0, 0)).save(paths[-1])
    one = 64 * 64 * 3
    images, urls = ImageStore(256, image_bytes=3 * one), ImageStore(256, url_bytes=1)
    for path in paths:
        assert images.image(path) is not None and urls.data_url(path) is not None
    for path in paths:
        path.unlink()  # what is still cached is served without the file
    assert [images.image(p) is not None for p in paths] == [False] * 7 + [True] * 3
    assert urls.data_url(paths[-1]) is not None and urls.data_url(paths[-2]) is None  # the newest URL only


def test_a_table_row_is_one_citable_unit_marked_inside_its_first_cell(docs_dir):
    (docs_dir / "consts.md").write_text(
        "# Parameters\n\nThe constants below are fixed by the fee market proposal.\n\n"
        "| Constant | Value |\n| - | - |\n| `BLOB_BASE_COST` | `2**13` |\n| `GAS_PER_BLOB` | `2**17` |\n"
    )
    document = load_documents(docs_dir).documents[0]
    planned = plan_requests(document, (QuestionType.FACTUAL_RECALL,), 1)[0]
    built = build_request(document, planned, PromptLibrary.load(), SamplingSettings(), ReplyLimits(), docs_dir)
    assert built.quotes[1:] == ("| `BLOB_BASE_COST` | `2**13` |", "| `GAS_PER_BLOB` | `2**17` |")
    text = text_of(built.engine_request)
    assert "| [2] `BLOB_BASE_COST` | `2**13` |\n| [3] `GAS_PER_BLOB` | `2**17` |" in text
    assert "| Constant | Value |" in text and "[4]" not in text, "the header row is not evidence"


def test_focused_requests_ask_about_their_own_run_of_sentences_and_may_cite_only_it(docs_dir):
    body = " ".join(f"Parameter P{i} of the blob fee market is set to {i * 7} units." for i in range(16))
    (docs_dir / "long.md").write_text(f"# Blob fee parameters\n\n{body}\n")
    document = load_documents(docs_dir).documents[0]
    planned = plan_requests(document, (QuestionType.FACTUAL_RECALL,), 2, sentences_per_request=8)
    library, root = PromptLibrary.load(), docs_dir.resolve()
    built = [build_request(document, p, library, SamplingSettings(), ReplyLimits(), root) for p in planned]
    assert [b.planned.focus for b in built] == [(1, 3), (2, 3), (3, 3)]
    cited = []
    for request in built:
        evidence = request.engine_request.schema["properties"]["pairs"]["items"]["properties"]["evidence"]
        numbers = evidence["items"]["enum"]
        task = text_of(request.engine_request).split("# Task")[1]
        assert f"sentences [{numbers[0]}] to [{numbers[-1]}] of the section" in task
        assert numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) <= 8
        cited += numbers
    assert cited == list(range(1, len(built[0].quotes) + 1)), "the runs cover the section's sentences once each"
    texts = [text_of(b.engine_request) for b in built]
    common = os.path.commonprefix(texts)  # noqa: RUF071 - a character prefix is the point
    assert common.endswith("Ask only about sentences ["), "the runs differ only in the numbers of the run"
    whole = build_request(
        document, dataclasses.replace(planned[0], focus=()), library, SamplingSettings(), ReplyLimits(), root
    )
    assert "Ask only about sentences" not in text_of(whole.engine_request)


CLOZE_DOC = """---
title: Blob fees
---

# Reserve price

The blob base fee is set by a dynamic pricing auction that targets `target_blob_gas` per block.
However, when execution costs dominate, the price signal of the auction is lost.
The function no longer subtracts `target_blob_gas` when the reserve price binds.
The reserve price equals `BLOB_BASE_COST` times the execution base fee of the block.
Figure 2 shows the verification time per blob for every kind of node.
"""


def test_a_fill_in_the_blank_request_offers_only_sentences_whose_items_can_stand_alone(docs_dir):
    (docs_dir / "fees.md").write_text(CLOZE_DOC)
    document = load_documents(docs_dir).documents[0]
    planned = plan_requests(document, (QuestionType.TRUE_FALSE_FILL_BLANK, QuestionType.FACTUAL_RECALL), 2)
    cloze, recall = (
        build_request(document, p, PromptLibrary.load(), SamplingSettings(), ReplyLimits(), docs_dir) for p in planned
    )

    def offered(request):
        return request.engine_request.schema["properties"]["pairs"]["items"]["properties"]["evidence"]["items"]["enum"]

    standing = [i for i, q in enumerate(cloze.quotes, 1) if q.startswith(("The blob base fee", "The reserve price"))]
    assert offered(cloze) == standing == [1, 4]
    # twice the questions per request for a cloze, at most one item per sentence offered
    assert (cloze.planned.n_pairs, cloze.n_pairs, recall.n_pairs) == (4, 2, 2)
    assert "Use only sentences [1], [4]" in text_of(cloze.engine_request)
    assert offered(recall) == list(range(1, len(recall.quotes) + 1)), "a recall question may cite any sentence"
    # the term of an item comes from the sentence cited or another offered one, never from one not offered
    items = [{"missing_term": "BLOB_BASE_COST", "evidence": [1]}, {"missing_term": "price signal", "evidence": [1]}]
    first, second = parse_reply(cloze, EngineResult(text=json.dumps({"pairs": items}), finish_reason="stop")).pairs
    assert first.question == "Fill in the blank: " + cloze.quotes[3].replace("`BLOB_BASE_COST`", "____")
    assert "____" not in second.question and second.evidence == (cloze.quotes[0],)
    # the term's enum guides decoding to phrases of the offered sentences; the task does not list them, and a
    # server without the schema may still write another term, which the gates judge
    term = cloze.engine_request.schema["properties"]["pairs"]["items"]["properties"]["missing_term"]
    assert "BLOB_BASE_COST" in term["enum"] and "dynamic pricing auction" in term["enum"]
    assert not {"price signal", "verification time"} & set(term["enum"]), "a phrase of a sentence not offered"
    assert "dynamic pricing auction" not in text_of(cloze.engine_request).split("# Task")[1]
    assert second.answer == "price signal", "validation takes a term outside the enum"
    rejected = parse_reply(
        cloze, EngineResult(text=json.dumps({"pairs": [{**items[0], "evidence": [2]}] * 2}), finish_reason="stop")
    )
    assert rejected.reason == "schema_violation"
