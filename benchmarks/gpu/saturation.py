"""On the GPU, in one process: the pipeline against lmdeploy's own ``pipe.infer``, and what reached the model.

    python benchmarks/gpu/saturation.py --env-file /tmp/gpu-kit/env-pytorch --requests 64

Loads the engine the run would load (create_engine), plans the run's requests
on markdown_docs/, then alternates two ways of sending the same built requests:
the pipeline (generate_all: build, send, parse, retries off) and the bare
``engine.pipe.infer`` on the same messages and GenerationConfigs. Also sends
one request with and without its images (prompt token counts show whether the
images reached the vision tower), checks every bare reply against its JSON
schema (what response_format did), and reads GPU memory. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from models.schemas import ReplyLimits  # noqa: E402
from utilities.api_utils import create_engine  # noqa: E402
from utilities.config import load_config  # noqa: E402
from utilities.engines.base import ImageStore, TextPart  # noqa: E402
from utilities.engines.lmdeploy_engine import LmdeploySettings, build_messages, generation_config  # noqa: E402
from utilities.file_utils import load_configured_documents  # noqa: E402
from utilities.generation import generate_all  # noqa: E402
from utilities.planner import build_plan  # noqa: E402
from utilities.prompts import PromptLibrary, SamplingSettings, build_request  # noqa: E402


def gpu_memory_gib() -> dict[str, float]:
    """Device-wide use (TurboMind allocates outside torch's allocator) and torch's own peak."""
    import torch

    free, total = torch.cuda.mem_get_info()
    return {
        "used_gib": round((total - free) / 2**30, 2),
        "total_gib": round(total / 2**30, 2),
        "torch_peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }


def load(env_file: str, count: int):
    config = load_config(["--env-file", env_file], os.environ)
    loaded = load_configured_documents(config)
    planned = build_plan(loaded, config).requests
    documents = {d.name: d for d in loaded.documents}
    docs_root = Path(os.path.realpath(config.run.markdown_docs_dir))
    library = PromptLibrary.load(config.run.system_prompt_file)
    sampling, limits = SamplingSettings.from_config(config), ReplyLimits.from_config(config)

    def build(p, attempt):
        return build_request(documents[p.document], p, library, sampling, limits, docs_root, attempt)

    return config, planned[:count], build


def run_pipeline(engine, planned, build) -> tuple[float, int]:
    start = time.perf_counter()
    # generate_all hands each final outcome on and keeps none; the measurement needs only its statistics
    stats = generate_all(planned, engine, build, max_retries=0, on_final=lambda outcome: None, log_every_s=None)
    return time.perf_counter() - start, stats.completion_tokens


def bare_inputs(engine, planned, build, tiles: int):
    built = [build(p, 0) for p in planned]
    prompts = [build_messages(b.engine_request, engine.images, tiles) for b in built]
    configs = [engine._lmdeploy.GenerationConfig(**generation_config(b.engine_request)) for b in built]
    return built, prompts, configs


def run_bare(engine, prompts, configs) -> tuple[float, int, list]:
    start = time.perf_counter()
    responses = engine.pipe.infer(prompts, gen_config=configs)
    return time.perf_counter() - start, sum(r.generate_token_len for r in responses), responses


def grammar_checker(model: str):
    """Whether a reply is a prefix the request's grammar accepts, compiled as lmdeploy compiles response_format.

    A random-weight model rarely closes its JSON within MAX_NEW_TOKENS (the grammar allows any amount of
    whitespace), so parsing alone cannot tell a constrained but truncated reply from an unconstrained one.
    """
    import xgrammar as xgr
    from lmdeploy._guided_decoding import compile_response_format
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=True)
    compiler = xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer)))
    compiled: dict[str, object] = {}

    def accepts(response_format: dict, text: str) -> bool:
        key = json.dumps(response_format, sort_keys=True)
        if key not in compiled:
            compiled[key] = compile_response_format(compiler, response_format)
        return xgr.GrammarMatcher(compiled[key]).accept_string(text)

    return accepts


def schema_check(built, responses, accepts) -> dict:
    """What response_format did: replies the grammar accepts, that parse as JSON, that validate."""
    finish: dict[str, int] = {}
    follows = parsed = valid = 0
    for b, response in zip(built, responses):
        finish[str(response.finish_reason)] = finish.get(str(response.finish_reason), 0) + 1
        follows += accepts(generation_config(b.engine_request)["response_format"], response.text)
        try:
            json.loads(response.text)
            parsed += 1
            b.reply_model.model_validate_json(response.text)
            valid += 1
        except ValueError:
            continue
    return {
        "replies": len(responses),
        "grammar_prefix": follows,
        "json_parses": parsed,
        "schema_valid": valid,
        "finish_reasons": finish,
    }


def image_reach(engine, built, tiles: int) -> dict:
    """Prompt tokens of one request with and without its images, next to the tiles InternVL should make of them."""
    from lmdeploy.vl.model.internvl import dynamic_preprocess

    request = next((b.engine_request for b in built if b.engine_request.images), None)
    if request is None:
        return {"note": "no planned request carries an image"}
    text_only = dataclasses.replace(request, parts=tuple(p for p in request.parts if isinstance(p, TextPart)))
    one_token = engine._lmdeploy.GenerationConfig(max_new_tokens=1)
    with_images, without = engine.pipe.infer(
        [build_messages(r, engine.images, tiles) for r in (request, text_only)], gen_config=[one_token, one_token]
    )
    expected = 0
    for part in request.images:
        blocks = len(dynamic_preprocess(engine.images.image(part.path), max_num=tiles, use_thumbnail=True))
        expected += blocks * 256 + 2  # 256 <IMG_CONTEXT> per 448px tile, plus <img> and </img>
    return {
        "images": len(request.images),
        "prompt_tokens_with_images": with_images.input_token_len,
        "prompt_tokens_without_images": without.input_token_len,
        "difference": with_images.input_token_len - without.input_token_len,
        "expected_image_tokens": expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", required=True)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="each round runs bare then pipeline, or the reverse")
    args = parser.parse_args()
    config, planned, build = load(args.env_file, args.requests)
    start = time.perf_counter()
    engine = create_engine(config, ImageStore(config.plan.max_image_side), "lmdeploy")
    result: dict = {"engine": engine.describe(), "load_s": round(time.perf_counter() - start, 1)}
    result["gpu_memory_after_load"] = gpu_memory_gib()
    tiles = config.section(LmdeploySettings).max_image_tiles
    model = config.section(LmdeploySettings).model
    built, prompts, configs = bare_inputs(engine, planned, build, tiles)
    run_bare(engine, prompts[:2], configs[:2])  # warm-up: kernels, grammar compiler, image preprocessing
    result["image_reach"] = image_reach(engine, built, tiles)
    totals = {"bare": [0.0, 0], "pipeline": [0.0, 0]}
    for round_number in range(args.rounds):
        for name in ("bare", "pipeline") if round_number % 2 == 0 else ("pipeline", "bare"):
            if name == "bare":
                seconds, tokens, responses = run_bare(engine, prompts, configs)
                result["response_format"] = schema_check(built, responses, grammar_checker(model))
            else:
                seconds, tokens = run_pipeline(engine, planned, build)
            totals[name][0] += seconds
            totals[name][1] += tokens
    for name, (seconds, tokens) in totals.items():
        result[name] = {
            "requests_per_s": round(len(planned) * args.rounds / seconds, 2),
            "completion_tokens_per_s": round(tokens / seconds, 1),
            "seconds": round(seconds, 1),
        }
    bare_rate = result["bare"]["completion_tokens_per_s"]
    result["saturation"] = round(result["pipeline"]["completion_tokens_per_s"] / bare_rate, 3) if bare_rate else None
    result["requests"] = len(planned)
    result["gpu_memory_peak"] = gpu_memory_gib()
    engine.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
