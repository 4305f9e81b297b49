"""Build the tiny random-weight InternVL3 checkpoint from the committed config (runs where torch is).

    python benchmarks/gpu/build_checkpoint.py /tmp/gpu-kit/tiny-internvl3

Writes config.json (tiny_internvl3.json), the stand-in remote config code, a
byte-level BPE tokenizer trained on markdown_docs/ with Qwen2's chat markers
and InternVL's image tokens, a ChatML chat template, and random bf16 weights
under every name lmdeploy loads (kit.checkpoint_tensors). Random weights make
random text: the point is that every stage runs, not what the model says.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kit  # noqa: E402

ROOT = HERE.parent.parent
# Qwen2.5 / InternVL3's ChatML, which lmdeploy 0.18.0 reads through HFChatTemplate (model.py).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def train_tokenizer(docs: Path, vocab_size: int):
    """A byte-level BPE like Qwen2's (every byte encodable, so xgrammar can spell any JSON)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(kit.SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = [path.read_text(encoding="utf-8") for path in sorted(docs.rglob("*.md"))]
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def save_tokenizer(tokenizer, folder: Path, max_length: int) -> None:
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(kit.SPECIAL_TOKENS[1:]),
        model_max_length=max_length,
        chat_template=CHAT_TEMPLATE,
    )
    fast.save_pretrained(folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "Qwen2Tokenizer"  # what InternVL3's tokenizer_config.json names
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def save_weights(spec: dict, folder: Path, seed: int = 0) -> int:
    """Random bf16 weights; norms and layer scales at 1 so activations stay finite. Returns the parameter count."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, shape in kit.checkpoint_tensors(spec).items():
        if name.endswith((".ls1", ".ls2")) or name == "mlp1.0.weight" or ("norm" in name and name.endswith(".weight")):
            tensor = torch.ones(shape)
        else:
            tensor = torch.randn(shape, generator=generator) * 0.02
        tensors[name] = tensor.to(torch.bfloat16).contiguous()
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return sum(t.numel() for t in tensors.values())


def build(folder: Path, docs: Path = ROOT / "markdown_docs") -> dict:
    spec = kit.read_checkpoint_spec()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    shutil.copy(HERE / "configuration_internvl_chat.py", folder)
    llm = spec["llm_config"]
    generation = {"bos_token_id": llm["bos_token_id"], "eos_token_id": [llm["eos_token_id"]]}
    (folder / "generation_config.json").write_text(json.dumps(generation), encoding="utf-8")
    tokenizer = train_tokenizer(docs, llm["vocab_size"])
    save_tokenizer(tokenizer, folder, llm["max_position_embeddings"])
    parameters = save_weights(spec, folder)
    return {"path": str(folder), "parameters": parameters, "tokenizer_vocab": tokenizer.get_vocab_size()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--docs", type=Path, default=ROOT / "markdown_docs")
    args = parser.parse_args()
    print(json.dumps(build(args.folder, args.docs)))


if __name__ == "__main__":
    main()
