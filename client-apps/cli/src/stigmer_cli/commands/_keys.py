"""`stigmer keys create | list | revoke`: API keys with a role and an org (admins only)."""

from __future__ import annotations

import functools
import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from google.protobuf import json_format
from rich.console import Console
from rich.table import Table

from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.iam.apikey.v1 import command_pb2_grpc, query_pb2_grpc
from ai.stigmer.iam.apikey.v1.api_pb2 import ApiKey
from ai.stigmer.iam.apikey.v1.enum_pb2 import ApiKeyRole
from ai.stigmer.iam.apikey.v1.io_pb2 import ApiKeyId
from stigmer_cli._context import options
from stigmer_cli.commands._output import OutputFormat

_TIMEOUT = 30.0

app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


class RoleName(StrEnum):
    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
    RUNNER = "runner"


_ROLES = {
    RoleName.VIEWER: ApiKeyRole.ROLE_VIEWER,
    RoleName.MEMBER: ApiKeyRole.ROLE_MEMBER,
    RoleName.ADMIN: ApiKeyRole.ROLE_ADMIN,
    RoleName.RUNNER: ApiKeyRole.ROLE_RUNNER,
}
_ROLE_NAMES = {int(value): name.value for name, value in _ROLES.items()}

OutputOption = Annotated[OutputFormat, typer.Option("--output", "-o", help="table, yaml or json.")]


@app.command("create")
def create_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    role: Annotated[RoleName, typer.Option("--role", help="viewer, member, admin or runner.")],
    org: Annotated[
        str, typer.Option("--org", help="The key's org (default: platform scope).")
    ] = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create a key and print it: this is the only time it is shown."""
    resources = options(ctx).resources()
    key = ApiKey(api_version="iam.stigmer.ai/v1", kind="ApiKey")
    key.metadata.name = name
    key.metadata.org = org
    key.spec.role = _ROLES[role]
    stub = command_pb2_grpc.ApiKeyCommandControllerStub(resources.channel)
    created: Any = resources.call(
        "create key", functools.partial(stub.create, key, timeout=_TIMEOUT)
    )
    key_id = created.api_key.metadata.id
    if output == OutputFormat.TABLE:
        console = Console()
        console.print(f"created key {key_id} ({role.value}, org {org or '<platform>'})")
        console.print("the key (shown this once; store it now):", style="bold")
        console.out(created.key)
    else:
        Console().out(json.dumps({"id": key_id, "key": created.key}))


@app.command("list")
def list_command(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List keys (never their secrets): your org's, or every org's for a platform admin."""
    resources = options(ctx).resources()
    stub = query_pb2_grpc.ApiKeyQueryControllerStub(resources.channel)
    items: list[Any] = []
    token = ""
    while True:
        request = ListRequest(page_size=200, page_token=token)
        page: Any = resources.call(
            "list keys", functools.partial(stub.list, request, timeout=_TIMEOUT)
        )
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    console = Console()
    if output != OutputFormat.TABLE:
        console.out(json.dumps([json_format.MessageToDict(item) for item in items], indent=2))
        return
    table = Table("ID", "NAME", "ROLE", "ORG", "CREATED", "LAST USED", "REVOKED")
    for item in items:
        table.add_row(
            item.metadata.id,
            item.metadata.name,
            _ROLE_NAMES.get(int(item.spec.role), "?"),
            item.metadata.org or "<platform>",
            _when(item.metadata, "created_at"),
            _when(item.status, "last_used_at"),
            _when(item.status, "revoked_at") if item.status.revoked else "",
        )
    console.print(table)


@app.command("revoke")
def revoke_command(
    ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key's id (key-...).")]
) -> None:
    """Revoke a key: it authenticates nothing from then on."""
    resources = options(ctx).resources()
    stub = command_pb2_grpc.ApiKeyCommandControllerStub(resources.channel)
    resources.call(
        f"revoke key {key_id}",
        functools.partial(stub.revoke, ApiKeyId(value=key_id), timeout=_TIMEOUT),
    )
    Console().print(f"key {key_id} revoked")


def _when(message: Any, field: str) -> str:
    if not message.HasField(field):
        return ""
    return str(getattr(message, field).ToDatetime().strftime("%Y-%m-%d %H:%M:%S"))
