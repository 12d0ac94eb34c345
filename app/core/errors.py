"""Typed errors the services raise; the API maps each family to one HTTP status."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a service raises on purpose."""


class NotFoundError(ServiceError):
    """The thing asked for does not exist (HTTP 404)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class ConflictError(ServiceError):
    """The request contradicts the stored state (HTTP 409)."""


class InvalidRequestError(ServiceError):
    """The request is well-formed but cannot be honoured (HTTP 422)."""
