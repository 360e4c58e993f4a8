"""Maintenance mode, headless: the staff PIN and lockout, every staff action with its
audit entry (:class:`~kioskapp.staff.service.StaffService`), the collection slip and the
``kioskapp admin`` command. No Qt here: the screens live in ``kioskapp.ui``."""
