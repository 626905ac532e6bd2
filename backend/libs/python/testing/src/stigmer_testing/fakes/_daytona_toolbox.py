"""The Daytona toolbox of one fake sandbox: commands run for real, files live on disk.

Every sandbox is a directory on the host. `sh -c` runs there in its own process group (so a
kill reaches the children too), with only the sandbox's environment, and file transfers use
the same directory, because deepagents' file tools mix `execute` with uploads and downloads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stigmer_testing.fakes._http import RecordedRequest, Response
from stigmer_testing.fakes._multipart import Part, build_form, parse_form


class Refused(Exception):
    """A request the fake refuses: a Daytona error envelope with `status`, and the `code` and
    `source` (DAYTONA_API, DAYTONA_DAEMON, DAYTONA_PROXY) the SDK picks its error class by."""

    def __init__(
        self, status: int, message: str, code: str | None = None, source: str = "DAYTONA_DAEMON"
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.source = source


@dataclass
class Command:
    id: str
    command: str
    session: str | None
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    # The daemon writes what it is sent to a command's stdin into its log too, unless the
    # command was started with `suppressInputEcho`.
    echo_input: bool = False

    def exit_code(self) -> int | None:
        code = self.process.poll()
        # A signal death reads as 128+N, the way a shell reports it.
        return None if code is None else (128 - code if code < 0 else code)

    def logs(self) -> dict[str, str]:
        out = self.stdout.read_text(errors="replace")
        err = self.stderr.read_text(errors="replace")
        return {"output": out + err, "stdout": out, "stderr": err}

    def send_input(self, data: str) -> None:
        if self.process.stdin is None or self.exit_code() is not None:
            raise Refused(410, f"command {self.id} has exited", "GONE")
        if self.echo_input:
            with self.stdout.open("ab") as log:
                log.write(data.encode())
        try:
            self.process.stdin.write(data.encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            raise Refused(410, f"command {self.id} has exited", "GONE") from None

    def kill(self) -> None:
        # The whole group, even after the shell exited: a background child may still run.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


@dataclass
class Toolbox:
    """The host side of one sandbox: its work directory, env, sessions and commands."""

    root: Path
    logs: Path
    env: Mapping[str, str]
    sessions: set[str] = field(default_factory=set)
    commands: dict[str, Command] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: RecordedRequest, path: str) -> Response:
        body = (
            request.json()
            if request.headers.get("content-type", "").startswith("application/json")
            else None
        )
        method = request.method
        if method == "GET" and path in ("/work-dir", "/user-home-dir"):
            return Response.json(200, {"dir": str(self.root)})
        if method == "POST" and path == "/process/execute":
            return self._execute(_object(body))
        if method == "POST" and path == "/process/session":
            return self._create_session(str(_object(body).get("sessionId") or ""))
        if method == "POST" and path == "/files/bulk-upload":
            return self._upload(request)
        if method == "POST" and path == "/files/bulk-download":
            return self._download(_object(body))
        if match := re.fullmatch(r"/process/session/([^/]+)(/.*)?", path):
            return self._session(method, match.group(1), match.group(2) or "", body)
        raise Refused(404, f"the fake toolbox has no route {method} {path}")

    def kill_all(self) -> None:
        with self.lock:
            commands = list(self.commands.values())
        for command in commands:
            command.kill()

    def running(self) -> list[str]:
        with self.lock:
            return [c.command for c in self.commands.values() if c.exit_code() is None]

    def host_path(self, path: str) -> Path:
        """Paths under the work dir are used as they are; any other path is re-rooted there."""
        given = Path(path)
        if not given.is_absolute():
            target = self.root / given
        elif given == self.root or self.root in given.parents:
            target = given
        else:
            target = self.root / given.relative_to("/")
        resolved = target.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise Refused(400, f"path {path!r} leaves the sandbox's directory")
        return resolved

    def _spawn(
        self,
        command: str,
        session: str | None,
        cwd: str | None,
        envs: Mapping[str, str],
        *,
        stdin: int = subprocess.DEVNULL,
    ) -> Command:
        command_id = uuid.uuid4().hex
        stdout, stderr = self.logs / f"{command_id}.out", self.logs / f"{command_id}.err"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root)}
        workdir = self.host_path(cwd) if cwd else self.root
        if not workdir.is_dir():
            raise Refused(400, f"cwd {cwd!r} is not a directory in the sandbox")
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                ["sh", "-c", command],
                cwd=workdir,
                env={**env, **self.env, **envs},
                stdin=stdin,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        spawned = Command(command_id, command, session, process, stdout, stderr)
        with self.lock:
            self.commands[command_id] = spawned
        return spawned

    def _execute(self, body: Mapping[str, Any]) -> Response:
        command = _required_str(body, "command")
        timeout = body.get("timeout") or None
        spawned = self._spawn(command, None, body.get("cwd"), _str_map(body, "envs"))
        try:
            spawned.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            spawned.kill()
            raise Refused(408, "command execution timeout", "PROCESS_EXECUTION_TIMEOUT") from None
        return Response.json(
            200, {"exitCode": spawned.exit_code(), "result": spawned.logs()["output"]}
        )

    def _create_session(self, session: str) -> Response:
        if not session:
            raise Refused(400, "sessionId is required")
        with self.lock:
            if session in self.sessions:
                raise Refused(409, f"session {session} already exists")
            self.sessions.add(session)
        return Response(201, content_type="text/plain")

    def _session(self, method: str, session: str, rest: str, body: Any) -> Response:
        with self.lock:
            known = session in self.sessions
            commands = [c for c in self.commands.values() if c.session == session]
        if not known:
            raise Refused(404, f"session {session} not found")
        if method == "DELETE" and not rest:
            for command in commands:
                command.kill()
            with self.lock:
                self.sessions.discard(session)
            return Response(204, content_type="text/plain")
        if method == "GET" and not rest:
            return Response.json(
                200, {"sessionId": session, "commands": [_status(c) for c in commands]}
            )
        if method == "POST" and rest == "/exec":
            return self._session_exec(session, _object(body))
        if match := re.fullmatch(r"/command/([^/]+)(/logs|/input)?", rest):
            found = [c for c in commands if c.id == match.group(1)]
            if not found or (method, match.group(2)) not in _COMMAND_ROUTES:
                raise Refused(404, f"command {match.group(1)} not found in session {session}")
            if match.group(2) == "/input":
                found[0].send_input(_required_str(_object(body), "data"))
                return Response(204, content_type="text/plain")
            return Response.json(200, found[0].logs() if match.group(2) else _status(found[0]))
        raise Refused(
            404, f"the fake toolbox has no route {method} /process/session/{session}{rest}"
        )

    def _session_exec(self, session: str, body: Mapping[str, Any]) -> Response:
        command = _required_str(body, "command")
        if body.get("runAsync") or body.get("async"):
            # A background command keeps its stdin open for the input endpoint.
            spawned = self._spawn(command, session, None, {}, stdin=subprocess.PIPE)
            spawned.echo_input = not body.get("suppressInputEcho")
            return Response.json(200, {"cmdId": spawned.id})
        spawned = self._spawn(command, session, None, {})
        spawned.process.wait()
        return Response.json(
            200, {"cmdId": spawned.id, "exitCode": spawned.exit_code(), **spawned.logs()}
        )

    def _upload(self, request: RecordedRequest) -> Response:
        try:
            parts = {
                p.name: p for p in parse_form(request.headers.get("content-type", ""), request.body)
            }
        except ValueError as error:
            raise Refused(400, f"bulk-upload: {error}") from None
        destinations = {
            n[: -len(".path")]: p.data.decode() for n, p in parts.items() if n.endswith(".path")
        }
        writes = []
        for prefix, destination in destinations.items():
            file_part = parts.get(f"{prefix}.file")
            if file_part is None:
                raise Refused(400, f"bulk-upload: {prefix}.path has no {prefix}.file part")
            writes.append((self.host_path(destination), file_part.data))
        for target, data in writes:  # every path is checked before anything is written
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return Response.json(200, {})

    def _download(self, body: Mapping[str, Any]) -> Response:
        paths = body.get("paths")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise Refused(400, "paths must be a list of strings")
        parts = []
        for path in paths:
            target = self.host_path(path)
            if target.is_file():
                parts.append(Part("file", path, target.read_bytes()))
            else:
                error = {
                    "message": f"file not found: {path}",
                    "statusCode": 404,
                    "code": "NOT_FOUND",
                }
                parts.append(Part("error", path, json.dumps(error).encode(), "application/json"))
        content_type, payload = build_form(parts)
        return Response(200, (payload,), content_type=content_type)

    def remove(self) -> None:
        self.kill_all()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.logs, ignore_errors=True)


_COMMAND_ROUTES = {("GET", None), ("GET", "/logs"), ("POST", "/input")}


def _status(command: Command) -> dict[str, Any]:
    return {"id": command.id, "command": command.command, "exitCode": command.exit_code()}


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise Refused(400, "the request body must be a JSON object")
    return body


def _required_str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refused(400, f"{name} must be a non-empty string")
    return value


def _str_map(body: Mapping[str, Any], name: str) -> dict[str, str]:
    value = body.get(name) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise Refused(400, f"{name} must be an object of strings")
    return dict(value)
