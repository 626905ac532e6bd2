"""Resolves a service's declared environment (kustomize overlay + service-hub groups) to .env."""

from stigmer_dotenv._errors import EnvConfigError
from stigmer_dotenv._groups import GROUP_KINDS, Groups, load_groups
from stigmer_dotenv._overlay import DeclaredEnv, load_overlay, render_overlay
from stigmer_dotenv._resolve import LocalSecrets, render_dotenv, resolve

__all__ = [
    "GROUP_KINDS",
    "DeclaredEnv",
    "EnvConfigError",
    "Groups",
    "LocalSecrets",
    "load_groups",
    "load_overlay",
    "render_dotenv",
    "render_overlay",
    "resolve",
]
