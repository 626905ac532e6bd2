"""Chat models for a turn: provider strings and the offline scripted model."""

from agent_runner.config import ProviderDefaults
from agent_runner.models._factory import (
    DefaultModelFactory,
    ModelFactory,
    ModelSpecError,
    check_key_destinations,
    split_model_spec,
)
from agent_runner.models._script import (
    Script,
    ScriptedReply,
    ScriptedToolCall,
    ScriptError,
    load_script,
    parse_script,
)
from agent_runner.models._scripted import (
    EXPECTATION_FAILED,
    ScriptedChatModel,
    exhausted_text,
    unscripted_subagent_text,
)

__all__ = [
    "EXPECTATION_FAILED",
    "DefaultModelFactory",
    "ModelFactory",
    "ModelSpecError",
    "ProviderDefaults",
    "Script",
    "ScriptError",
    "ScriptedChatModel",
    "ScriptedReply",
    "ScriptedToolCall",
    "check_key_destinations",
    "exhausted_text",
    "load_script",
    "parse_script",
    "split_model_spec",
    "unscripted_subagent_text",
]
