"""How fast ``kioskapp simulate-sales`` runs journeys (real time; simulated time is free).

    .venv/bin/python bench/simulate_sales.py [JOURNEYS] [FAULT_RATE] [SEED]

Prints::

    BENCH simulate_sales_ms_per_journey <value>
    BENCH simulate_sales_journeys_per_s <value>
    BENCH simulate_sales_sim_s_per_journey <value>

and the run's RECONCILIATION line. Faults that answer later than a client's
timeout cost that time for real (about 1.3 s each with the built-in config).
"""

from __future__ import annotations

import asyncio
import sys

from kioskapp.simulate import SimulationOptions, simulate_sales


def main(argv: list[str]) -> int:
    journeys = int(argv[0]) if argv else 200
    rate = float(argv[1]) if len(argv) > 1 else 0.2
    seed = int(argv[2]) if len(argv) > 2 else 0
    report = asyncio.run(simulate_sales(SimulationOptions(journeys, fault_rate=rate, seed=seed)))
    per_journey = report.wall_s / max(1, journeys)
    print(f"BENCH simulate_sales_ms_per_journey {per_journey * 1000:.1f}")
    print(f"BENCH simulate_sales_journeys_per_s {1 / per_journey if per_journey else 0:.1f}")
    print(f"BENCH simulate_sales_sim_s_per_journey {report.sim_s / max(1, journeys):.0f}")
    print(report.line())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
