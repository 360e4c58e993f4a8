"""Maintenance mode on the kiosk's screen (staff only, English for now).

The screens call :class:`kioskapp.staff.service.StaffService` and nothing else; see
:mod:`kioskapp.ui.staff.mode` for how staff get in and out.
"""

from kioskapp.ui.staff.mode import StaffMode

__all__ = ["StaffMode"]
