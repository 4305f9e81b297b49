"""The config class the tiny checkpoint's ``auto_map`` names, as InternVL3's own remote code does.

InternVL3 (legacy ``InternVLChatModel``) checkpoints ship a
``configuration_internvl_chat.py`` that turns ``llm_config`` and
``vision_config`` into config objects; lmdeploy reads them by attribute
(``config.llm_config.architectures``), which only works when the pipeline is
built with ``trust_remote_code=True``. This is a minimal stand-in written for
the kit: it is copied into the checkpoint folder on the device and holds no
modelling code, since lmdeploy builds the model itself.
"""

from transformers import PretrainedConfig, Qwen2Config


class InternVisionConfig(PretrainedConfig):
    model_type = "intern_vit_6b"


class InternVLChatConfig(PretrainedConfig):
    model_type = "internvl_chat"
    sub_configs = {"vision_config": InternVisionConfig, "llm_config": Qwen2Config}  # noqa: RUF012 (transformers API)

    def __init__(self, vision_config=None, llm_config=None, **kwargs):
        self.vision_config = _sub_config(InternVisionConfig, vision_config)
        self.llm_config = _sub_config(Qwen2Config, llm_config)
        super().__init__(**kwargs)


def _sub_config(cls, value):
    return value if isinstance(value, PretrainedConfig) else cls(**(value or {}))
