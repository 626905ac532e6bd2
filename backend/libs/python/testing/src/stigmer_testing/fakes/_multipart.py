"""multipart/form-data in both directions, with the stdlib email parser (the cgi module is gone).

Daytona's toolbox takes uploads as multipart requests and answers bulk downloads with a
multipart reply, one part per requested path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    data: bytes
    content_type: str = "application/octet-stream"


def parse_form(content_type: str, body: bytes) -> list[Part]:
    """The parts of a multipart/form-data body; a body that is not multipart raises ValueError."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValueError(f"Content-Type must be multipart/form-data, got {content_type!r}")
    envelope = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = message_from_bytes(envelope + body, policy=policy.HTTP)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise ValueError("multipart body has no parts (is the boundary right?)")
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a multipart part has no Content-Disposition name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts.append(Part(name, part.get_filename(), data, part.get_content_type()))
    return parts


def build_form(parts: list[Part]) -> tuple[str, bytes]:
    """(Content-Type header, body) for the given parts."""
    boundary = uuid.uuid4().hex
    chunks = []
    for part in parts:
        disposition = f'form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        head = (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            f"Content-Type: {part.content_type}\r\n\r\n"
        )
        chunks += [head.encode(), part.data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(chunks)
