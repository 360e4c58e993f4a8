"""Qt-free async clients: one per vendor API, plus the callback receiver."""
