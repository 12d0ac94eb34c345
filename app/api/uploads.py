"""Reading an upload off the wire: a multipart form (the file in field ``file``) or a raw
body, streamed chunk by chunk into an ``IncomingFile``; never held in memory whole."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request, status
from python_multipart.multipart import MultipartParser, parse_options_header

from app.core.errors import InvalidRequestError
from app.films.ingest import IncomingFile, UploadTooLarge

FILE_FIELD = "file"
# Form fields other than the file are small (title, year, extra JSON).
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32
RAW_CONTENT_TYPES = (b"application/octet-stream", b"application/mxf")

UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {"type": "string", "format": "binary"},
                        "title": {"type": "string", "maxLength": 512},
                        "year": {"type": "integer", "minimum": 1850, "maximum": 2200},
                        "extra": {"type": "string", "description": "a JSON object"},
                        "analyze": {"type": "boolean"},
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@dataclass
class ReceivedUpload:
    filename: str | None
    fields: dict[str, str] = field(default_factory=dict)


class _FormReader:
    """python-multipart callbacks: the ``file`` part goes to disk, other parts to memory."""

    def __init__(self, incoming: IncomingFile) -> None:
        self.incoming = incoming
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.saw_file = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._name: str | None = None
        self._value = bytearray()
        self._is_file = False

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._value = bytearray()
        self._is_file = False

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).decode("latin-1").lower()] = bytes(
            self._header_value
        )
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        name = options.get(b"name")
        self._name = name.decode("utf-8", "replace") if name is not None else None
        if self._name == FILE_FIELD:
            if self.saw_file:
                raise InvalidRequestError(f"only one {FILE_FIELD!r} part may be sent")
            self.saw_file = True
            self._is_file = True
            filename = options.get(b"filename")
            self.filename = filename.decode("utf-8", "replace") if filename else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.incoming.write(memoryview(data)[start:end])
        elif len(self._value) + (end - start) > MAX_FIELD_BYTES:
            raise InvalidRequestError(f"form field {self._name!r} is too long")
        else:
            self._value.extend(data[start:end])

    def _part_end(self) -> None:
        if not self._is_file and self._name is not None:
            if len(self.fields) >= MAX_FIELDS:
                raise InvalidRequestError("too many form fields")
            self.fields[self._name] = self._value.decode("utf-8", "replace")


async def receive(request: Request, incoming: IncomingFile, max_bytes: int) -> ReceivedUpload:
    """Stream the request body into ``incoming``; returns the filename and form fields."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + MAX_FIELD_BYTES:
        # Refuse before reading a byte (the multipart envelope adds a little to the file).
        raise UploadTooLarge(max_bytes)
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise InvalidRequestError("multipart body without a boundary")
        reader = _FormReader(incoming)
        try:
            parser = MultipartParser(boundary, reader.callbacks())
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        except (InvalidRequestError, UploadTooLarge):
            raise
        except Exception as exc:  # python-multipart's parse errors
            raise InvalidRequestError(f"malformed multipart body: {exc}") from exc
        if not reader.saw_file:
            raise InvalidRequestError(f"multipart body has no {FILE_FIELD!r} field")
        return ReceivedUpload(reader.filename, reader.fields)
    if (
        content_type
        and content_type not in RAW_CONTENT_TYPES
        and not content_type.startswith(b"video/")
    ):
        raise HTTPException(
            status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="send multipart/form-data with a 'file' field, or the raw file as "
            "application/octet-stream or video/*",
        )
    async for chunk in request.stream():
        incoming.write(chunk)
    return ReceivedUpload(None)


def form_extra(fields: dict[str, str]) -> dict[str, Any] | None:
    """The ``extra`` form field, a JSON object."""
    raw = fields.get("extra")
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError("form field 'extra' must be a JSON object") from exc
    if not isinstance(value, dict):
        raise InvalidRequestError("form field 'extra' must be a JSON object")
    return value


def form_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InvalidRequestError(f"expected a boolean, got {value!r}")
