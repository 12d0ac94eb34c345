"""Typed errors the services raise; the API maps each family to one HTTP status."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a service raises on purpose."""


class NotFoundError(ServiceError):
    """The thing asked for does not exist (HTTP 404). ``message`` says so in words, for
    the user (default: "<kind> <key> not found")."""

    def __init__(self, kind: str, key: object, message: str | None = None) -> None:
        super().__init__(message or f"{kind} {key} not found")
        self.kind = kind
        self.key = key


class ConflictError(ServiceError):
    """The request contradicts the stored state (HTTP 409)."""


class InvalidRequestError(ServiceError):
    """The request is well-formed but cannot be honoured (HTTP 422)."""


class ForbiddenError(ServiceError):
    """The request asks for something no caller may have, e.g. a path outside the storage
    root (HTTP 403)."""


class PayloadTooLargeError(ServiceError):
    """An upload exceeds the configured size limit (HTTP 413)."""


class UnavailableError(ServiceError):
    """Something the request needs is down or missing: the task queue, ffmpeg, the film's
    file (HTTP 503)."""
