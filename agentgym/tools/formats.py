"""The tool-call formats and their markers: Hermes/ChatML `<tool_call>` JSON blocks and DeepSeek V3/V3.1 tokens."""

from __future__ import annotations

from typing import Literal

ToolFormat = Literal["hermes", "deepseek"]

# Hermes/ChatML (Qwen, SmolLM2, NousResearch): one JSON object per <tool_call> block.
HERMES_OPEN = "<tool_call>"
HERMES_CLOSE = "</tool_call>"

# DeepSeek V3/V3.1 special tokens. They use the fullwidth bar U+FF5C and U+2581 ("▁"); the regexes also accept the
# ASCII look-alikes a model or a detokenizer sometimes writes instead.
DS_CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
DS_CALLS_END = "<｜tool▁calls▁end｜>"
DS_CALL_BEGIN = "<｜tool▁call▁begin｜>"
DS_CALL_END = "<｜tool▁call▁end｜>"
DS_SEP = "<｜tool▁sep｜>"

