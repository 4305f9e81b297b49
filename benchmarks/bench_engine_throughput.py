"""Pipeline overhead against a bare client, on a real llama.cpp HTTP server.

    python benchmarks/bench_engine_throughput.py
    python benchmarks/bench_engine_throughput.py --requests 32 --parallel 4 --rounds 2

Starts xllamacpp's server on loopback with the default model (Qwen2.5-Coder-1.5B) and
``--parallel`` slots, builds real requests from a document (prompts, schema,
seeds), then alternates two ways of sending the identical requests at the same
concurrency: the full pipeline (openai engine, reply validation, retries off)
and a bare httpx.AsyncClient that only posts them and counts tokens. Prints
requests/s and completion tokens/s of each and their ratio (target >= 0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from models.question_types import QuestionType  # noqa: E402
from models.schemas import ReplyLimits  # noqa: E402
from utilities.engines.base import ImageStore  # noqa: E402
from utilities.engines.default_model import default_model_path  # noqa: E402
from utilities.engines.embedded import EmbeddedSettings, build_params  # noqa: E402
from utilities.engines.openai_compat import OpenAIEngine, OpenAISettings  # noqa: E402
from utilities.file_utils import load_documents  # noqa: E402
from utilities.generation import generate_all  # noqa: E402
from utilities.planner import plan_requests  # noqa: E402
from utilities.prompts import PromptLibrary, SamplingSettings, build_request  # noqa: E402

DEFAULT_DOCS = ROOT / "markdown_docs"


def build_requests(docs: Path, count: int, max_tokens: int):
    documents = load_documents(docs).documents
    library = PromptLibrary.load()
    sampling = SamplingSettings(max_new_tokens=max_tokens, max_images=0)
    limits = ReplyLimits(max_answer_chars=300)
    types = (QuestionType.FACTUAL_RECALL, QuestionType.INFERENCE, QuestionType.SECTION_SUMMARY)
    planned, by_name = [], {d.name: d for d in documents}
    for document in documents:
        planned.extend(plan_requests(document, types, 1))
    planned = planned[:count]
    root = docs.resolve()

    def build(p, attempt):
        return build_request(by_name[p.document], p, library, sampling, limits, root, attempt)

    return planned, build


def run_pipeline(planned, build, base_url: str, concurrency: int) -> tuple[float, int]:
    engine = OpenAIEngine(OpenAISettings(base_urls=(base_url,), max_concurrency=concurrency), ImageStore(512))
    start = time.perf_counter()
    stats = generate_all(planned, engine, build, 0, on_final=lambda outcome: None)
    return time.perf_counter() - start, stats.completion_tokens


def run_bare(planned, build, base_url: str, concurrency: int) -> tuple[float, int]:
    engine = OpenAIEngine(OpenAISettings(base_urls=(base_url,)), ImageStore(512))
    payloads = [engine.payload(build(p, 0).engine_request, json_object=False, text_only=True) for p in planned]

    async def main() -> int:
        limit = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=concurrency)) as client:

            async def one(payload) -> int:
                async with limit:
                    response = await client.post(f"{base_url}/chat/completions", json=payload)
                    return response.json()["usage"]["completion_tokens"]

            return sum(await asyncio.gather(*(one(p) for p in payloads)))

    start = time.perf_counter()
    tokens = asyncio.run(main())
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=4, help="llama.cpp slots")
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=2, help="each round runs bare then pipeline, or the reverse")
    args = parser.parse_args()

    import xllamacpp

    settings = EmbeddedSettings(model=None, mmproj=None, parallel=args.parallel, ctx_per_slot=4096)
    server = xllamacpp.Server(build_params(settings, default_model_path()))
    base_url = f"{server.listening_address}/v1"
    planned, build = build_requests(args.docs, args.requests, args.max_tokens)
    concurrency = args.parallel * 2
    print(
        f"llama.cpp server {base_url}: Qwen2.5-Coder-1.5B Q4_K_M, {args.parallel} slots, "
        f"{len(os.sched_getaffinity(0))} cores; {len(planned)} requests, concurrency {concurrency}"
    )
    run_bare(planned[:2], build, base_url, concurrency)  # warm up
    totals = {"bare": [0.0, 0], "pipeline": [0.0, 0]}
    for round_number in range(args.rounds):
        order = ("bare", "pipeline") if round_number % 2 == 0 else ("pipeline", "bare")
        for name in order:
            runner = run_bare if name == "bare" else run_pipeline
            seconds, tokens = runner(planned, build, base_url, concurrency)
            totals[name][0] += seconds
            totals[name][1] += tokens
            print(
                f"round {round_number + 1} {name:>8}: {seconds:6.1f} s, {len(planned) / seconds:5.2f} requests/s, "
                f"{tokens / seconds:6.1f} completion tokens/s"
            )
    rate = {name: tokens / seconds for name, (seconds, tokens) in totals.items()}
    print(
        f"completion tokens/s: pipeline {rate['pipeline']:.1f}, bare {rate['bare']:.1f}; "
        f"pipeline/bare = {rate['pipeline'] / rate['bare']:.3f} (target >= 0.95)"
    )
    del server


if __name__ == "__main__":
    main()
