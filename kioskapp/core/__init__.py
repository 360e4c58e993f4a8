"""Qt-free core: money, clock, the customer flow, journal, recovery, receipts."""
