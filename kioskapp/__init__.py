"""kioskapp: software for unattended self-service kiosks."""

__version__ = "0.1.0"
