"""The error tree every device and service client raises.

Small on purpose: callers sort errors by who must act, not by vendor.

- :class:`ServiceUnavailable` / :class:`ServiceTimeout`: the network or the
  device did not answer (in time). Environment problem: degrade, retry where
  repeating is harmless, flag staff.
- :class:`ProtocolError`: the answer came but makes no sense (not JSON, wrong
  shape, missing field). Environment problem, never the customer's.
- :class:`ApiError` and its subclasses: the service answered with an error it
  documents (status + vendor code). Some are the customer's to act on (card
  declined, card not found), some are device faults (jam, paper out).

Every error carries ``service`` (which client), ``status`` (HTTP status when
there was one), ``code`` (the vendor's error code), ``request_id`` (the
vendor's id for support calls) and a ``message`` safe to log: no tokens, no
card numbers. Vendor modules subclass these for codes callers branch on.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a kioskapp client raises for an external service."""

    #: Whether repeating the same request may succeed (only ever done for
    #: requests whose repetition is harmless).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.status = status
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status),
                ("code", self.code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        suffix = f" ({', '.join(details)})" if details else ""
        return f"{self.service}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ServiceUnavailable(ServiceError):
    """No answer: connection refused, reset, DNS failure, connection dropped."""

    retryable = True


class ServiceTimeout(ServiceUnavailable):
    """No answer within the call's timeout. The request may or may not have acted."""


class ProtocolError(ServiceError):
    """An answer that does not follow the contract: not JSON, wrong shape or types."""


class ApiError(ServiceError):
    """The service answered with an error it documents."""


class InvalidRequest(ApiError):
    """400/422: the service rejected what we sent (a bug on our side, or bad input)."""


class AuthError(ApiError):
    """401/403: missing, invalid or expired credentials or token."""


class NotFound(ApiError):
    """404: the thing asked for does not exist."""


class ConflictError(ApiError):
    """409: the device or service is in a state that does not allow the request."""

    retryable = False


class RateLimited(ApiError):
    """429: too many requests; repeating later is harmless for safe calls."""

    retryable = True


class ServerError(ApiError):
    """5xx: the service failed (including a proxy's non-JSON 502 page)."""

    retryable = True


def error_class_for_status(status: int) -> type[ApiError]:
    """The generic :class:`ApiError` subclass for an HTTP error status."""
    if status in (400, 422):
        return InvalidRequest
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFound
    if status == 409:
        return ConflictError
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return ApiError
