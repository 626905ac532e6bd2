"""Options every command shares, parsed once by the root callback and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import typer

from stigmer_cli._client import ClientConfig, Resources, open_channel, resolve_config
from stigmer_cli.local._layout import Layout


@dataclass(frozen=True)
class GlobalOptions:
    home: Path
    server: str | None
    api_key: str | None

    @property
    def layout(self) -> Layout:
        return Layout(self.home)

    def client_config(self) -> ClientConfig:
        return resolve_config(self.home, self.server, self.api_key, os.environ)

    def resources(self) -> Resources:
        config = self.client_config()
        return Resources(open_channel(config), config.address)


def options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    assert isinstance(root.obj, GlobalOptions), "the root callback sets the options"
    return root.obj
