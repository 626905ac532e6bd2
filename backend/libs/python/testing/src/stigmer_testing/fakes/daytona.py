"""A fake Daytona: the control plane under `/api` and the toolbox under `/toolbox/{id}`.

Point `Daytona(DaytonaConfig(api_key=..., api_url=fake.api_url, target=...))` at it. Sandbox
replies carry every field the SDK's strict models require; `toolboxProxyUrl` sends toolbox
calls back to this server. State changes take one poll, as in the real service: a created
sandbox is `creating` until the SDK's next GET, a started one `starting`, a stopped one
`stopping`. The SDK's socket.io gateway gets a 404, so the SDK falls back to polling.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from stigmer_testing.fakes._daytona_toolbox import Refused, Toolbox
from stigmer_testing.fakes._http import FakeHttpServer, RecordedRequest, Response

_NEXT_STATE = {"creating": "started", "starting": "started", "stopping": "stopped"}


@dataclass
class FakeSandbox:
    """A sandbox the fake holds; `request` is the create body exactly as the SDK sent it."""

    id: str
    request: Mapping[str, Any]
    state: str
    toolbox: Toolbox
    # Tests may move these back in time to make a sandbox look old or idle to a reaper.
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.request.get("labels") or {})

    @property
    def env(self) -> dict[str, str]:
        return dict(self.request.get("env") or {})

    @property
    def root(self) -> Path:
        """The host directory commands run in and files land in."""
        return self.toolbox.root


class FakeDaytona(FakeHttpServer):
    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_dir: Path | None = None,
        organization_id: str = "fake-org",
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.organization_id = organization_id
        self._given_base = base_dir
        self._base: Path | None = None
        self._sandboxes: dict[str, FakeSandbox] = {}
        self._state_lock = threading.Lock()

    @property
    def api_url(self) -> str:
        """The value for `DaytonaConfig(api_url=...)` / DAYTONA_API_URL."""
        return f"{self.url}/api"

    def start(self) -> None:
        base = self._given_base or Path(tempfile.mkdtemp(prefix="fake-daytona-"))
        self._base = base.resolve()
        super().start()

    def stop(self) -> None:
        super().stop()
        with self._state_lock:
            sandboxes, self._sandboxes = list(self._sandboxes.values()), {}
        for sandbox in sandboxes:
            sandbox.toolbox.remove()
        if self._given_base is None and self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)

    # Hooks for tests: what happens to sandboxes outside the client's own calls.
    def sandboxes(self) -> list[FakeSandbox]:
        with self._state_lock:
            return list(self._sandboxes.values())

    def sandbox(self, sandbox_id: str) -> FakeSandbox:
        with self._state_lock:
            return self._sandboxes[sandbox_id]

    def set_state(self, sandbox_id: str, state: str) -> None:
        """Force a state (e.g. `stopped` by auto-stop, or `error`); running commands die."""
        sandbox = self.sandbox(sandbox_id)
        if state != "started":
            sandbox.toolbox.kill_all()
        with self._state_lock:
            sandbox.state = state

    def set_label(self, sandbox_id: str, name: str, value: str) -> None:
        """Change a label as if another client had (e.g. to make it another org's)."""
        with self._state_lock:
            sandbox = self._sandboxes[sandbox_id]
            labels = {**sandbox.labels, name: value}
            sandbox.request = {**sandbox.request, "labels": labels}

    def discard(self, sandbox_id: str) -> None:
        """The sandbox vanishes as if deleted elsewhere (auto-delete, the dashboard)."""
        with self._state_lock:
            sandbox = self._sandboxes.pop(sandbox_id)
        sandbox.toolbox.remove()

    def running_commands(self, sandbox_id: str) -> list[str]:
        return self.sandbox(sandbox_id).toolbox.running()

    def kill_commands(self, sandbox_id: str) -> None:
        self.sandbox(sandbox_id).toolbox.kill_all()

    def error_response(self, status: int, message: str) -> Response:
        return _error(_api_error(status, message))

    def handle(self, request: RecordedRequest) -> Response:
        if (
            self.api_key is not None
            and request.headers.get("authorization") != f"Bearer {self.api_key}"
        ):
            return self.error_response(401, "Unauthorized")
        try:
            if request.path.startswith("/toolbox/"):
                sandbox_id, _, rest = request.path[len("/toolbox/") :].partition("/")
                sandbox = self._lookup(sandbox_id)
                sandbox.last_activity_at = _now()
                if sandbox.state != "started":
                    raise Refused(
                        409,
                        f"sandbox {sandbox.id} is {sandbox.state}, not started",
                        None,
                        "DAYTONA_PROXY",
                    )
                return sandbox.toolbox.handle(request, "/" + rest)
            if request.path.startswith("/api/"):
                return self._control(request, request.path[len("/api") :])
        except Refused as error:
            return _error(error)
        return self.error_response(404, f"no route for {request.method} {request.path}")

    def _control(self, request: RecordedRequest, path: str) -> Response:
        method = request.method
        if path == "/sandbox" and method == "POST":
            return Response.json(200, self._dto(self._create(request.json())))
        if path == "/sandbox" and method == "GET":
            return Response.json(200, self._list(request.query))
        match = re.fullmatch(r"/sandbox/([^/]+)(/[a-z-]+)?", path)
        if match is None:
            raise _api_error(404, f"no route for {method} /api{path}")
        sandbox, action = self._lookup(match.group(1)), match.group(2) or ""
        with self._state_lock:
            if method == "GET" and action == "":
                sandbox.state = _NEXT_STATE.get(sandbox.state, sandbox.state)
            elif method == "POST" and action == "/start":
                sandbox.state = "started" if sandbox.state == "started" else "starting"
            elif method == "POST" and action == "/stop":
                sandbox.state = "stopping"
            elif method == "DELETE" and action == "":
                self._sandboxes.pop(sandbox.id, None)
                sandbox.state = "destroying"
            elif method == "GET" and action == "/toolbox-proxy-url":
                return Response.json(200, {"url": f"{self.url}/toolbox"})
            else:
                raise _api_error(404, f"no route for {method} /api{path}")
            if method != "GET":
                sandbox.updated_at = sandbox.last_activity_at = _now()
            dto = self._dto(sandbox)
        if sandbox.state in ("stopping", "destroying"):
            sandbox.toolbox.kill_all()
        if sandbox.state == "destroying":
            sandbox.toolbox.remove()
        return Response.json(200, dto)

    def _create(self, body: Any) -> FakeSandbox:
        if not isinstance(body, dict):
            raise _api_error(400, "the create body must be a JSON object")
        for name in ("labels", "env"):
            value = body.get(name) or {}
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise _api_error(400, f"{name} must be an object of strings, got {value!r}")
        if self._base is None:
            raise _api_error(500, "the fake is not started")
        sandbox_id, now = str(uuid.uuid4()), _now()
        root = self._base / sandbox_id / "home" / "daytona"
        logs = self._base / sandbox_id / "logs"
        root.mkdir(parents=True)
        logs.mkdir()
        sandbox = FakeSandbox(
            id=sandbox_id,
            request=body,
            state="creating",
            toolbox=Toolbox(root=root, logs=logs, env=dict(body.get("env") or {})),
            created_at=now,
            updated_at=now,
            last_activity_at=now,
        )
        with self._state_lock:
            self._sandboxes[sandbox_id] = sandbox
        return sandbox

    def _lookup(self, id_or_name: str) -> FakeSandbox:
        with self._state_lock:
            for sandbox in self._sandboxes.values():
                if id_or_name in (sandbox.id, sandbox.request.get("name")):
                    return sandbox
        raise _api_error(404, f"Sandbox with ID or name {id_or_name} not found")

    def _list(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
        try:
            wanted = json.loads(query["labels"][0]) if "labels" in query else {}
            offset = int(query.get("cursor", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
        except ValueError as error:
            raise _api_error(
                400, f"labels must be JSON, cursor and limit numbers: {error}"
            ) from None
        if not isinstance(wanted, dict):
            raise _api_error(400, f"labels must be a JSON object, got {wanted!r}")
        states = {s for value in query.get("states", []) for s in value.split(",")}
        with self._state_lock:
            matching = [
                self._dto(s, listing=True)
                for s in self._sandboxes.values()
                if all(s.labels.get(k) == v for k, v in wanted.items())
                and (not states or s.state in states)
            ]
        page = matching[offset : offset + limit]
        more = offset + limit < len(matching)
        return {"items": page, "nextCursor": str(offset + limit) if more else None}

    def _dto(self, sandbox: FakeSandbox, *, listing: bool = False) -> dict[str, Any]:
        body = sandbox.request
        dto: dict[str, Any] = {
            "id": sandbox.id,
            "organizationId": self.organization_id,
            "name": body.get("name") or sandbox.id,
            "user": body.get("user") or "daytona",
            "labels": sandbox.labels,
            "public": bool(body.get("public", False)),
            "networkBlockAll": bool(body.get("networkBlockAll", False)),
            "target": body.get("target") or "us",
            "cpu": int(body.get("cpu") or 1),
            "gpu": int(body.get("gpu") or 0),
            "memory": int(body.get("memory") or 1),
            "disk": int(body.get("disk") or 3),
            "state": sandbox.state,
            "snapshot": body.get("snapshot"),
            "toolboxProxyUrl": f"{self.url}/toolbox",
            "createdAt": _iso(sandbox.created_at),
            "updatedAt": _iso(sandbox.updated_at),
            "lastActivityAt": _iso(sandbox.last_activity_at),
        }
        for interval in ("autoStopInterval", "autoArchiveInterval", "autoDeleteInterval"):
            if interval in body:
                dto[interval] = body[interval]
        if not listing:
            dto |= {"env": sandbox.env, "kvm": False}
        return dto


def _error(refused: Refused) -> Response:
    try:
        code = refused.code or HTTPStatus(refused.status).name
    except ValueError:
        code = "ERROR"  # a status the stdlib has no name for, e.g. an injected 529
    envelope = {
        "statusCode": refused.status,
        "message": str(refused),
        "code": code,
        "source": refused.source,
    }
    return Response.json(refused.status, envelope)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _api_error(status: int, message: str) -> Refused:
    return Refused(status, message, None, "DAYTONA_API")
