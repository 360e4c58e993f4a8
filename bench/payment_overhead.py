"""The app-side time a payment adds, per provider, beyond the simulator's own delays.

The simulators run in their own process (`kioskapp-sim`), the kiosk side is
built by `open_devices` exactly as the app builds it, on the real clock. For
each payment the benchmark plays the customer as soon as the kiosk is ready,
and counts only the kiosk's own time:

    overhead = (start → "waiting for the customer") + (customer's last action → result)

so the customer's (simulated) time is left out; polling providers show their
poll interval here, which is the kiosk's own choice. Prints per provider:

    BENCH payment_overhead_ms <provider> <median>

    .venv/bin/python bench/payment_overhead.py [--payments 20] [--providers cash,tpv,...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tecalis_calls import free_port, start_simulator

from kioskapp.app import Devices, open_devices
from kioskapp.config import load_config
from kioskapp.core.money import Money
from kioskapp.devices import komoju, payjunction
from kioskapp.payments.base import Outcome, PaymentMethod
from kioskapp.simulator.control import SimControl

PROVIDERS = ("cash", "tpv", "kinetic", "komoju", "payjunction")
AMOUNTS = {"komoju": Money(1000, "JPY"), "payjunction": Money(1000, "USD")}
CURRENCY = {"komoju": "JPY", "payjunction": "USD"}

Customer = Callable[[SimControl], Awaitable[None]]


async def cash_customer(control: SimControl) -> None:
    await control.insert_note(10)


async def tpv_customer(control: SimControl) -> None:
    await control.tpv_present()
    await control.tpv_pin()
    await control.tpv_approve()


async def kinetic_customer(control: SimControl) -> None:
    await control.call("POST", "/kinetic/present", {"brand": "visa", "last4": "0010"})
    await control.call("POST", "/kinetic/approve")


async def komoju_customer(control: SimControl) -> None:
    await control.call("POST", "/komoju/terminal/approve", {"brand": "visa", "last4": "4242"})


async def payjunction_customer(control: SimControl) -> None:
    await control.call("POST", "/payjunction/terminal/present", {"brand": "VISA", "last4": "4242"})


CUSTOMERS: dict[str, Customer] = {
    "cash": cash_customer,
    "tpv": tpv_customer,
    "kinetic": kinetic_customer,
    "komoju": komoju_customer,
    "payjunction": payjunction_customer,
}


async def one_payment(method: PaymentMethod, amount: Money, sale: str, control: SimControl,
                      customer: Customer) -> float:  # fmt: skip
    start = time.perf_counter()
    attempt = await method.start(amount, sale)
    statuses = attempt.statuses()
    async for status in statuses:
        if status.phase == "waiting_for_customer":
            break
    ready = time.perf_counter()
    await customer(control)
    acted = time.perf_counter()
    async for _ in statuses:
        pass
    result = await attempt.result()
    done = time.perf_counter()
    if result.outcome is not Outcome.APPROVED:
        raise SystemExit(f"{method.name}: payment {sale} ended {result.outcome}: {result.detail}")
    return ((ready - start) + (done - acted)) * 1000


async def bench_provider(provider: str, base: str, payments: int) -> list[float]:
    port = free_port()
    currency = CURRENCY.get(provider, "EUR")
    with tempfile.TemporaryDirectory() as state:
        env = {
            "KIOSKAPP_TECALIS__BASE_URL": f"{base}/tecalis",
            "KIOSKAPP_CARDAPI__BASE_URL": f"{base}/cardapi",
            "KIOSKAPP_KINETIC__BASE_URL": f"{base}/kinetic/api/v2",
            "KIOSKAPP_KOMOJU__BASE_URL": f"{base}/komoju",
            "KIOSKAPP_PAYJUNCTION__BASE_URL": f"{base}/payjunction",
            "KIOSKAPP_CALLBACKS__LISTEN_PORT": str(port),
            "KIOSKAPP_CALLBACKS__PUBLIC_URL": f"http://127.0.0.1:{port}",
            "KIOSKAPP_PAYMENTS__CARD_PROVIDER": "tpv" if provider == "cash" else provider,
            "KIOSKAPP_KIOSK__CURRENCY": currency,
            "KIOSKAPP_KIOSK__STATE_DIR": state,
        }
        config = load_config(None, env=env)
        devices: Devices = await open_devices(config, state_dir=Path(state))
        async with SimControl(base) as control:
            await control.reset()
            if provider == "komoju":
                url = devices.receiver.url_for(komoju.WEBHOOK_PATH)
                await control.call("POST", "/komoju/webhook", {"url": url})
            if provider == "payjunction":
                url = devices.receiver.url_for(payjunction.WEBHOOK_PATH)
                await control.call("POST", "/payjunction/webhook", {"url": url})
            method = devices.payment_methods[provider]
            amount = AMOUNTS.get(provider, Money(1000, "EUR"))
            try:
                samples = []
                for i in range(payments + 2):
                    ms = await one_payment(method, amount, f"bench-{provider}-{i}", control,
                                           CUSTOMERS[provider])  # fmt: skip
                    if i >= 2:  # the first two warm connections and code paths
                        samples.append(ms)
            finally:
                await devices.aclose()
    return samples


async def main_async(providers: list[str], payments: int) -> None:
    port = free_port()
    proc = start_simulator(port)
    try:
        for provider in providers:
            samples = await bench_provider(provider, f"http://127.0.0.1:{port}", payments)
            median = statistics.median(samples)
            print(f"{provider}: {len(samples)} payments, max {max(samples):.1f} ms")
            print(f"BENCH payment_overhead_ms {provider} {median:.1f}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=20)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args = parser.parse_args()
    providers = [p for p in args.providers.split(",") if p]
    unknown = set(providers) - set(PROVIDERS)
    if unknown:
        print(f"unknown provider(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    asyncio.run(main_async(providers, args.payments))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
