"""Qt widgets: the customer screens and maintenance mode."""
