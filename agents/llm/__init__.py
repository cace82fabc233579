"""Model clients. ``make_model(config)`` picks one by ``config.provider``.

Providers are a small registry of dotted paths, so importing this package
does not import every SDK.
"""

from __future__ import annotations

import importlib

from agents.config import ModelConfig
from agents.llm.base import MalformedReply, Message, Model, ModelReply, ToolCall, ToolSpec, Usage

PROVIDERS: dict[str, str] = {
    "openai": "agents.llm.openai_compat.OpenAICompatModel",
    "anthropic": "agents.llm.anthropic_client.AnthropicModel",
}


def make_model(config: ModelConfig) -> Model:
    try:
        dotted = PROVIDERS[config.provider]
    except KeyError:
        raise ValueError(
            f"unknown model provider {config.provider!r}; known: {', '.join(sorted(PROVIDERS))}"
        ) from None
    module, _, name = dotted.rpartition(".")
    model: Model = getattr(importlib.import_module(module), name)(config)
    return model


__all__ = [
    "PROVIDERS",
    "MalformedReply",
    "Message",
    "Model",
    "ModelConfig",
    "ModelReply",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "make_model",
]
