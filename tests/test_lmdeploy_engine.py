"""The lmdeploy engine, built through its public constructor with a stand-in ``lmdeploy`` package.

lmdeploy is not installed in CI (it needs CUDA), so ``sys.modules['lmdeploy']`` is
replaced by ``StandInLmdeploy``: the names the engine imports (``pipeline``, the two
backend configs, ``GenerationConfig``, ``__version__``), recording what the engine
builds and sends, and answering each request from what that request says (its text
and its ``response_format`` schema). Everything between the engine's import and the
pipeline's ``infer`` runs for real.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable

import pytest
from PIL import Image

from generate_synthetic_data import main
from models.question_types import QuestionType
from models.schemas import ReplyLimits
from utilities.engines.base import EngineRequest, EngineResult, ImagePart, ImageStore, TextPart
from utilities.engines.lmdeploy_engine import LmdeployEngine, LmdeploySettings
from utilities.errors import ConfigError
from utilities.file_utils import load_documents
from utilities.planner import plan_requests
from utilities.prompts import PromptLibrary, SamplingSettings, build_request
from utilities.settings import parse_section

from .helpers import valid_reply, write_small_doc

OUT_OF_MEMORY = "CUDA out of memory. Tried to allocate 2.00 GiB"


class Recorded:
    """A config object of the stand-in package: its class name and the keyword arguments it was given."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs


class TurbomindEngineConfig(Recorded):
    pass


class PytorchEngineConfig(Recorded):
    pass


class GenerationConfig(Recorded):
    pass


def response(text: str = "{}", finish_reason: str = "stop", **extra) -> types.SimpleNamespace:
    """What ``lmdeploy.messages.Response`` carries that the engine reads."""
    counts = {"input_token_len": len(text), "generate_token_len": 1}
    return types.SimpleNamespace(text=text, finish_reason=finish_reason, **{**counts, **extra})


def reply_from_request(messages: list[dict], gen_config: GenerationConfig) -> types.SimpleNamespace:
    """A valid reply built from the request alone: its text parts and its response_format's schema."""
    text = "".join(part["text"] for part in messages[1]["content"] if part["type"] == "text")
    schema = gen_config.kwargs["response_format"]["json_schema"]["schema"]
    request = EngineRequest("x", messages[0]["content"], (TextPart(text),), schema, 100, 0.0, 1.0, 0)
    return response(valid_reply(request))


class Pipeline:
    def __init__(self, respond: Callable, fits: int | None):
        self.respond = respond
        self.fits = fits
        self.batches: list[list[tuple[list[dict], GenerationConfig]]] = []
        self.closed = False

    def infer(self, prompts, gen_config):
        self.batches.append(list(zip(prompts, gen_config, strict=True)))
        if self.fits is not None and len(prompts) > self.fits:
            raise RuntimeError(OUT_OF_MEMORY)
        return [self.respond(messages, config) for messages, config in zip(prompts, gen_config)]

    def close(self) -> None:
        self.closed = True


class StandInLmdeploy(types.ModuleType):
    """Stands in for the lmdeploy package at the import boundary; keeps every pipeline it built."""

    __version__ = "0.18.0"
    TurbomindEngineConfig = TurbomindEngineConfig
    PytorchEngineConfig = PytorchEngineConfig
    GenerationConfig = GenerationConfig

    def __init__(self, respond: Callable = reply_from_request, fits: int | None = None):
        super().__init__("lmdeploy")
        self.respond = respond
        self.fits = fits  # requests one infer call holds before it runs out of GPU memory (None: any)
        self.pipelines: list[tuple[tuple, dict, Pipeline]] = []

    def pipeline(self, *args, **kwargs) -> Pipeline:
        pipe = Pipeline(self.respond, self.fits)
        self.pipelines.append((args, kwargs, pipe))
        return pipe

    @property
    def sent(self) -> list[tuple[list[dict], GenerationConfig]]:
        """Every (messages, generation config) handed to any pipeline, in order."""
        return [item for _, _, pipe in self.pipelines for batch in pipe.batches for item in batch]


@pytest.fixture
def stand_in(monkeypatch) -> Callable[..., StandInLmdeploy]:
    def install(**kwargs) -> StandInLmdeploy:
        module = StandInLmdeploy(**kwargs)
        monkeypatch.setitem(sys.modules, "lmdeploy", module)
        return module

    return install


@pytest.fixture
def built(docs_dir):
    write_small_doc(docs_dir)
    document = load_documents(docs_dir).documents[0]
    planned = plan_requests(document, tuple(QuestionType), 3)
    library = PromptLibrary.load()
    return [build_request(document, p, library, SamplingSettings(), ReplyLimits(), docs_dir.resolve()) for p in planned]


def plain_requests(n: int) -> list[EngineRequest]:
    return [EngineRequest(f"r{i}", "s", (TextPart("t"),), {}, 10, 0.5, 0.9, i) for i in range(n)]


def test_turbomind_and_pytorch_backend_configs(stand_in):
    lmdeploy = stand_in()
    settings = LmdeploySettings(model="OpenGVLab/InternVL3-8B-AWQ", model_format="awq", num_gpus=2, session_len=8192)
    engine = LmdeployEngine(settings, ImageStore(64))
    LmdeployEngine(LmdeploySettings(model="m", engine="pytorch", model_format="awq"), ImageStore(64))
    (_, turbomind, _), (_, pytorch, _) = lmdeploy.pipelines
    assert type(turbomind["backend_config"]) is TurbomindEngineConfig
    assert turbomind["backend_config"].kwargs == {
        "tp": 2,
        "session_len": 8192,
        "cache_max_entry_count": 0.8,
        "enable_prefix_caching": True,
        "model_format": "awq",
    }
    assert type(pytorch["backend_config"]) is PytorchEngineConfig
    kwargs = pytorch["backend_config"].kwargs
    assert "model_format" not in kwargs and kwargs["enable_prefix_caching"]
    described = engine.describe()
    assert described["engine"] == "TurbomindEngineConfig" and described["lmdeploy"] == "0.18.0"
    assert described["tp"] == 2 and described["batch_size"] == 256


def test_an_unknown_lmdeploy_engine_is_a_config_error(stand_in):
    lmdeploy = stand_in()
    with pytest.raises(ConfigError, match="LMDEPLOY_ENGINE must be one of turbomind, pytorch, got 'vllm'"):
        LmdeployEngine(parse_section(LmdeploySettings, {"MODEL": "m", "LMDEPLOY_ENGINE": "vllm"}), ImageStore(64))
    assert lmdeploy.pipelines == []


@pytest.mark.parametrize("engine", ["turbomind", "pytorch"])
def test_the_pipeline_trusts_the_checkpoints_remote_config(stand_in, engine):
    """InternVL3 (InternVLChatModel) defines its config in remote code; lmdeploy 0.18.0's pipeline defaults to
    trust_remote_code=False, and then the PyTorch engine fails on 'dict' object has no attribute 'hidden_size'."""
    lmdeploy = stand_in()
    LmdeployEngine(LmdeploySettings(model="OpenGVLab/InternVL3-8B-AWQ", engine=engine), ImageStore(64))
    ((args, kwargs, _),) = lmdeploy.pipelines
    assert args == ("OpenGVLab/InternVL3-8B-AWQ",)
    assert kwargs["trust_remote_code"] is True
    assert kwargs["backend_config"].kwargs["session_len"] == 16384


def test_generation_config_samples_and_constrains(stand_in, built):
    lmdeploy = stand_in()
    engine = LmdeployEngine(LmdeploySettings(model="m"), ImageStore(256))
    requests = [b.engine_request for b in built]
    results = dict(engine.generate(requests))
    assert sorted(results) == list(range(len(requests))) and all(r.error is None for r in results.values())
    sent = lmdeploy.sent
    assert len(sent) == len(requests)
    for request, (_, config) in zip(requests, sent):
        assert config.kwargs["do_sample"] is True
        assert config.kwargs["random_seed"] == request.seed and config.kwargs["max_new_tokens"] == request.max_tokens
        assert config.kwargs["response_format"]["type"] == "json_schema"
        assert config.kwargs["response_format"]["json_schema"]["schema"] == request.schema
        assert config.kwargs["repetition_penalty"] == request.repetition_penalty
    assert len({config.kwargs["random_seed"] for _, config in sent}) == len(requests)


def test_messages_carry_pil_images_with_the_tile_limit(stand_in, built):
    lmdeploy = stand_in()
    engine = LmdeployEngine(LmdeploySettings(model="m", max_image_tiles=3), ImageStore(512))
    request = next(b.engine_request for b in built if b.engine_request.images)
    list(engine.generate([request]))
    ((messages, _),) = lmdeploy.sent
    assert messages[0] == {"role": "system", "content": request.system}
    images = [c for c in messages[1]["content"] if c["type"] == "image_data"]
    assert len(images) == 1
    assert isinstance(images[0]["image_data"]["data"], Image.Image)
    assert images[0]["image_data"]["max_dynamic_patch"] == 3
    assert images[0]["image_data"]["data"].mode == "RGB"
    assert all(isinstance(p, (TextPart, ImagePart)) for p in request.parts)


def test_responses_map_to_results_and_a_failed_one_carries_its_message(stand_in):
    replies = iter([response("{}", input_token_len=900, generate_token_len=120)])

    def respond(messages, config):
        return next(replies, response("", finish_reason="error", error_message="CUDA OOM"))

    stand_in(respond=respond)
    engine = LmdeployEngine(LmdeploySettings(model="m"), ImageStore(64))
    results = dict(engine.generate(plain_requests(2)))
    ok, failed = results[0], results[1]
    assert (ok.text, ok.finish_reason, ok.prompt_tokens, ok.completion_tokens, ok.error) == (
        "{}",
        "stop",
        900,
        120,
        None,
    )
    assert failed.error == "CUDA OOM" and not failed.transient


def test_requests_go_in_chunks_of_the_batch_size(stand_in):
    lmdeploy = stand_in()
    engine = LmdeployEngine(LmdeploySettings(model="m", batch_size=3), ImageStore(64))
    results = list(engine.generate(plain_requests(7)))
    assert [i for i, _ in results] == list(range(7))
    (_, _, pipe) = lmdeploy.pipelines[0]
    assert [len(batch) for batch in pipe.batches] == [3, 3, 1]


def test_out_of_memory_halves_the_batch_until_it_fits(stand_in):
    lmdeploy = stand_in(respond=lambda messages, config: response(), fits=2)
    engine = LmdeployEngine(LmdeploySettings(model="m", batch_size=8), ImageStore(64))
    results = list(engine.generate(plain_requests(8)))
    assert sorted(i for i, _ in results) == list(range(8))
    assert all(r.error is None for _, r in results)
    (_, _, pipe) = lmdeploy.pipelines[0]
    assert [len(batch) for batch in pipe.batches] == [8, 4, 2, 2, 4, 2, 2]


def test_out_of_memory_at_one_request_leaves_it_unfinished(stand_in):
    stand_in(respond=lambda messages, config: response(), fits=0)
    engine = LmdeployEngine(LmdeploySettings(model="m", batch_size=2), ImageStore(64))
    results = list(engine.generate(plain_requests(2)))
    assert [i for i, _ in results] == [0, 1]
    assert all(isinstance(r, EngineResult) and r.transient and "out of memory" in r.error for _, r in results)


def test_without_lmdeploy_the_backend_is_a_one_line_config_error(monkeypatch, docs_dir, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "lmdeploy", None)  # an import of it raises ImportError
    with pytest.raises(ConfigError, match=r"BACKEND=lmdeploy needs lmdeploy: pip install -r requirements-gpu\.txt"):
        LmdeployEngine(LmdeploySettings(model="m"), ImageStore(64))
    write_small_doc(docs_dir)
    assert main(["--docs-dir", str(docs_dir), "--output-dir", str(tmp_path / "o"), "--backend", "lmdeploy"]) == 2
    assert "BACKEND=lmdeploy needs lmdeploy" in capsys.readouterr().err


def test_a_run_with_backend_lmdeploy_answers_every_request_and_closes_the_pipeline(stand_in, docs_dir, tmp_path):
    lmdeploy = stand_in()
    write_small_doc(docs_dir)
    out = tmp_path / "out"
    args = ["--docs-dir", str(docs_dir), "--output-dir", str(out), "--backend", "lmdeploy", "--verify", "none"]
    assert main([*args, "--question-types", "FACTUAL_RECALL,SECTION_SUMMARY", "--lmdeploy-batch-size", "3"]) == 0
    ((_, _, pipe),) = lmdeploy.pipelines
    assert [len(batch) for batch in pipe.batches] == [3, 1] and pipe.closed
    (report,) = (json.loads(p.read_text()) for p in out.glob("report-*.json"))
    assert report["engine"]["backend"] == "lmdeploy" and report["engine"]["lmdeploy"] == "0.18.0"
    records = [r for f in out.glob("*-synthetic-data-*.json") for r in json.loads(f.read_text())]
    totals = report["totals"]
    assert totals["requests_accepted"] == totals["requests"] == 4
    assert len(records) == totals["pairs_accepted"] > 0
