"""Qt-free payment methods behind one interface."""
