"""The health of one device or service, as the maintenance dashboard shows it.

Kept apart from :mod:`kioskapp.devices.http` (which needs httpx) so that what the
screens import stays light.
"""

from __future__ import annotations

from dataclasses import dataclass

from kioskapp.devices.errors import ProtocolError, ServiceError, ServiceUnavailable


@dataclass
class ServiceHealth:
    """What the maintenance dashboard shows for one service: is it answering, and the last error."""

    name: str
    ok: bool | None = None
    last_ok_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    def record_ok(self, at: float) -> None:
        self.ok = True
        self.last_ok_at = at

    def record_error(self, error: ServiceError, at: float) -> None:
        # An error the service answered deliberately (409 jam, 404 unknown) still
        # means the service is reachable; only transport and protocol failures
        # mark it unhealthy.
        if isinstance(error, ServiceUnavailable | ProtocolError):
            self.ok = False
        else:
            self.ok = True
            self.last_ok_at = at
        self.last_error = str(error)
        self.last_error_at = at


__all__ = ["ServiceHealth"]
