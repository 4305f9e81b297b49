"""Checks before spending tokens: ``check_settings`` before a run or ``--curate``, and ``--check``.

``check_settings``: the documents folder exists, OUTPUT_DIR is not inside it and can be
written, BACKEND names an engine, and pyarrow is there when OUTPUT_FORMATS has ``hf``.

``check_engine`` (``--check``): load the configured engine, send one small schema-constrained request, report.

The request is built exactly as a run builds one (system prompt, a two-sentence
section, a chart as its figure, the FACTUAL_RECALL template, the reply schema),
so a pass means the engine, the schema-constrained decoding, the image path (for
engines that take images) and the reply parser all work together. Exit 0 when
the reply is valid JSON matching the schema, 1 otherwise.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from models.question_types import QuestionType
from utilities import engines
from utilities.api_utils import create_engine
from utilities.config import Config
from utilities.engines.base import ImageStore
from utilities.engines.sending import watched
from utilities.errors import ConfigError
from utilities.file_utils import load_documents
from utilities.outputs.files import probe_writable_folder
from utilities.planner import plan_requests
from utilities.prompts import PromptLibrary, RequestBuilder
from utilities.replies import REASONS, parse_reply

CHECK_DOCUMENT = """---
title: Engine check
---
# Pump delivery

The pump delivers 40 litres per minute at a pressure of 2 bar. At 4 bar the same
pump delivers 25 litres per minute, as the chart in Figure 1.1 shows.

{{FIGURE_1.1}}

**Figure 1.1** Pump delivery in litres per minute at 2 bar and at 4 bar.
"""


def check_settings(config: Config) -> None:
    docs = config.run.markdown_docs_dir
    if not docs.is_dir():
        raise ConfigError(f"MARKDOWN_DOCS_DIR must be an existing folder, got '{docs}'")
    out = config.run.output_dir
    docs_real, out_real = docs.resolve(), out.resolve()
    if out_real == docs_real or out_real.is_relative_to(docs_real):
        raise ConfigError(f"OUTPUT_DIR must not be inside MARKDOWN_DOCS_DIR, got '{out}' inside '{docs}'")
    try:
        probe_writable_folder(config.run.output_dir)
    except OSError as exc:
        raise ConfigError(
            f"OUTPUT_DIR must be a folder this tool can create and write to, got '{out}' ({exc.strerror})"
        ) from None
    engines.check_name(config.run.backend)
    if "hf" in config.run.output_formats and importlib.util.find_spec("pyarrow") is None:
        raise ConfigError("OUTPUT_FORMATS=hf writes parquet and needs pyarrow: pip install pyarrow")


def _write_check_document(folder: Path) -> None:
    (folder / "check.md").write_text(CHECK_DOCUMENT, encoding="utf-8")
    image = Image.new("RGB", (320, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 30, 130, 180), fill=(40, 90, 200))  # 40 l/min at 2 bar
    draw.rectangle((190, 86, 260, 180), fill=(200, 90, 40))  # 25 l/min at 4 bar
    draw.text((80, 185), "2 bar", fill="black")
    draw.text((210, 185), "4 bar", fill="black")
    (folder / "check").mkdir()
    image.save(folder / "check" / "FIGURE_1.1.png")


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def check_engine(config: Config) -> int:
    with tempfile.TemporaryDirectory(prefix="synthetic-check-") as tmp:
        docs = Path(tmp).resolve()
        _write_check_document(docs)
        document = load_documents(docs).documents[0]
        (planned,) = plan_requests(document, (QuestionType.FACTUAL_RECALL,), 1)
        library = PromptLibrary.load(config.run.system_prompt_file)
        build = RequestBuilder([document], library, config.sampling, config.limits, docs)
        built = build(planned)
        started = time.perf_counter()
        try:
            engine = create_engine(config, ImageStore(config.plan.max_image_side))
        except Exception as exc:
            print(f"check failed: the engine did not load: {type(exc).__name__}: {exc}")
            return 1
        loaded = time.perf_counter()
        print(f"engine: {engine.describe()}")
        print(f"loaded in {loaded - started:.1f} s")
        try:
            results = list(watched(engine, [built.engine_request], None))
        except Exception as exc:  # engines report errors as results; this is one that did not
            print(f"check failed: the engine raised {type(exc).__name__}: {exc}")
            return 1
        finally:
            engine.close()
        elapsed = time.perf_counter() - loaded
    if not results:
        print("check failed: the engine returned no result")
        return 1
    result = results[0][1]
    rate = result.completion_tokens / elapsed if elapsed > 0 else 0.0
    print(
        f"one request with {len(built.figures)} figure: {elapsed:.1f} s, {result.prompt_tokens} prompt + "
        f"{result.completion_tokens} completion tokens, {rate:.1f} completion tokens/s, "
        f"finish reason {result.finish_reason}"
    )
    parsed = parse_reply(built, result)
    if parsed.reason is not None:
        raw = result.error if result.error is not None else result.text
        print(f"reply: {' '.join(raw.split())[:400]}")
        print(f"check failed: {parsed.reason}: {REASONS.get(parsed.reason, '')} ({parsed.detail})")
        return 1
    for pair in parsed.pairs:
        print(f"  question: {_short(pair.question)}")
        print(f"  answer:   {_short(pair.answer)}")
        print(f"  evidence: {' | '.join(pair.evidence) or '-'}; figures: {', '.join(pair.figures) or '-'}")
    print("check passed: the reply is valid JSON that matches the request's schema (its quality is not judged here)")
    return 0
