"""From a model string to a chat model: provider strings and `scripted:<name or path>`.

Keys and base URLs come from the turn's merged environment first (an agent may bring its
own, as secret environment values), then from the runner's defaults. The SDKs' own retries are
off (`max_retries=0`): a failed request is classified once at the activity boundary
(`errors.classify`), where Temporal retries it after the provider's retry-after, capped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from agent_runner.config import ProviderDefaults
from agent_runner.errors import InvalidInputError
from agent_runner.models._script import Script, load_script
from agent_runner.models._scripted import ScriptedChatModel


class ModelSpecError(InvalidInputError):
    """A model string or its settings that no retry can fix (unknown provider, missing key)."""


class ModelFactory(Protocol):
    def chat_model(
        self, spec: str, *, env: Mapping[str, str], subagent: str | None = None
    ) -> BaseChatModel:
        """The model for the main agent (`subagent=None`) or for the named sub-agent."""
        ...


_BARE_PREFIXES = {
    "claude": "anthropic",
    "gpt": "openai",
    "o1": "openai",
    "o3": "openai",
    "o4": "openai",
}


def split_model_spec(spec: str) -> tuple[str, str]:
    """`provider:name`; a bare well-known name (`claude-sonnet-4.5`) gets its provider."""
    provider, sep, name = spec.partition(":")
    if sep and provider in {"anthropic", "openai", "ollama", "scripted"}:
        if not name:
            raise ModelSpecError(f"model {spec!r} names no model after {provider + ':'!r}")
        return provider, name
    for prefix, known in _BARE_PREFIXES.items():
        if spec.startswith(prefix):
            return known, spec
    raise ModelSpecError(
        f"model {spec!r} is not a known provider string; expected 'anthropic:<model>', "
        "'openai:<model>', 'ollama:<model>' or 'scripted:<name or path>'"
    )


# The variables that send a provider's key somewhere: a key goes only to a base URL set in
# the same environment layer, or to the runner's own (the operator's) base URL.
_ENDPOINT_VARIABLES = {
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
}


def check_key_destinations(models: Iterable[str], origins: Mapping[str, str]) -> None:
    """Refuse a base URL set by an environment layer that does not also set the key.

    Otherwise an environment holding only `ANTHROPIC_BASE_URL` would make the runner send
    the operator's key (or another layer's) to that URL. `origins` maps each variable of the
    turn's merged environment to the layer its value came from.
    """
    for provider in sorted({split_model_spec(model)[0] for model in models}):
        if provider not in _ENDPOINT_VARIABLES:
            continue
        key, url = _ENDPOINT_VARIABLES[provider]
        if url not in origins or origins.get(key) == origins[url]:
            continue
        source = f"from {origins[key]}" if key in origins else "the runner's"
        raise ModelSpecError(
            f"{url} is set by {origins[url]} but {key} would be {source}: a provider key is "
            f"sent only to a base URL of its own layer; set {key} in {origins[url]} as well "
            f"(as a secret), or remove {url} from it"
        )


class DefaultModelFactory:
    def __init__(self, defaults: ProviderDefaults) -> None:
        self._defaults = defaults
        self._scripts: dict[str, Script] = {}

    def chat_model(
        self, spec: str, *, env: Mapping[str, str], subagent: str | None = None
    ) -> BaseChatModel:
        provider, name = split_model_spec(spec)
        if provider == "scripted":
            return self._scripted(name, subagent)
        if provider == "anthropic":
            from langchain_anthropic import ChatAnthropic

            key = self._key(env, "ANTHROPIC_API_KEY", self._defaults.anthropic_api_key, spec)
            base_url = env.get("ANTHROPIC_BASE_URL") or self._defaults.anthropic_base_url or None
            return ChatAnthropic(
                model_name=name,
                api_key=SecretStr(key),
                base_url=base_url,
                timeout=None,
                stop=None,
                max_retries=0,
            )
        if provider == "openai":
            from langchain_openai import ChatOpenAI

            key = self._key(env, "OPENAI_API_KEY", self._defaults.openai_api_key, spec)
            base_url = env.get("OPENAI_BASE_URL") or self._defaults.openai_base_url or None
            # With a custom base_url langchain-openai turns usage reporting off unless asked.
            return ChatOpenAI(
                model=name,
                api_key=SecretStr(key),
                base_url=base_url,
                stream_usage=True,
                max_retries=0,
            )
        from langchain_ollama import ChatOllama

        base_url = env.get("OLLAMA_BASE_URL") or self._defaults.ollama_base_url or None
        return ChatOllama(model=name, base_url=base_url)

    def _scripted(self, ref: str, subagent: str | None) -> ScriptedChatModel:
        script = self._scripts.get(ref)
        if script is None:
            script = load_script(ref, scripts_dir=self._defaults.scripts_dir)
            self._scripts[ref] = script
        if subagent is None:
            return ScriptedChatModel(script=script, speaker="main")
        return ScriptedChatModel(script=script.subagents.get(subagent), speaker=subagent)

    @staticmethod
    def _key(env: Mapping[str, str], name: str, default: str, spec: str) -> str:
        key = env.get(name) or default
        if not key:
            raise ModelSpecError(
                f"model {spec!r} needs {name}: set it in an environment of the agent instance "
                "or in the runner's configuration"
            )
        return key
