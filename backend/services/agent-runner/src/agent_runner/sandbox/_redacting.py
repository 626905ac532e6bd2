"""File tools that never show a secret to the model.

Command output is redacted where commands run; a file can hold a secret too (a command wrote
`$API_KEY` into it, or a config file carries one), so what `read_file` and `grep` return is
redacted the same way. Both sandbox backends put this class first in their bases.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from deepagents.backends.protocol import BackendProtocol, GrepResult, ReadResult

from agent_runner.environment import Redactor


class RedactingFileReads(BackendProtocol):
    _redact: Redactor

    def read(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        return self._redacted_read(super().read(file_path, offset, limit))

    async def aread(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        return self._redacted_read(await super().aread(file_path, offset, limit))

    # Arguments pass through untouched: backends add their own (FilesystemBackend's
    # `context_lines`), and only the matched text needs redacting.
    def grep(self, *args: Any, **kwargs: Any) -> GrepResult:
        return self._redacted_grep(super().grep(*args, **kwargs))

    async def agrep(self, *args: Any, **kwargs: Any) -> GrepResult:
        return self._redacted_grep(await super().agrep(*args, **kwargs))

    def _redacted_read(self, result: ReadResult) -> ReadResult:
        data = result.file_data
        # Binary files travel base64-encoded: a secret cannot be matched inside them.
        if data is None or data.get("encoding", "utf-8") != "utf-8":
            return result
        return replace(result, file_data={**data, "content": self._redact(data["content"])})

    def _redacted_grep(self, result: GrepResult) -> GrepResult:
        if not result.matches:
            return result
        matches = [{**match, "text": self._redact(match["text"])} for match in result.matches]
        return replace(result, matches=matches)  # type: ignore[arg-type]
