"""``kioskapp admin``: the journal and the staff PIN from a shell, with or without the
kiosk app running.

    kioskapp admin [--config FILE] sales [--search ID] [--limit N]
    kioskapp admin [--config FILE] sale ID
    kioskapp admin [--config FILE] incidents [--all] [--limit N]
    kioskapp admin [--config FILE] resolve (ID | --sale SALE) --note TEXT
    kioskapp admin [--config FILE] cash
    kioskapp admin [--config FILE] export --csv [--output FILE] [--since T] [--until T]
    kioskapp admin [--config FILE] set-pin [--pin-stdin] [--print-hash]
    kioskapp admin [--config FILE] audit [--limit N]

The config is found as the app finds it (``--config``, before or after the
action, else ``$KIOSKAPP_CONFIG``, else /etc/kioskapp/kiosk.toml) with the same
``KIOSKAPP_<SECTION>__<KEY>`` overrides; the journal is the one it names.
``admin`` never creates, migrates or changes the schema of a journal, and
refuses a file that is not a kioskapp journal of this version. Reading actions
open it read-only; resolve, export and set-pin write their audit entry. The app
may run meanwhile: the journal is SQLite in WAL mode (readers never wait; a
write waits up to 10 s for the app's). Cash collection is not offered here: it
prints a slip on the kiosk's printer, which the app owns (maintenance mode does
it).

Actions that change something or export card data are audit-logged as ``<unix
user>@admin``. Exit status: 0 done, 1 the request could not be done (no such
incident, already resolved, no journal, cash box does not match), 2 bad input
(usage, empty or too long note, bad PIN, bad config).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import getpass
import io
import logging
import os
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from kioskapp.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    ConfigError,
    env_var_name,
    load_config,
    resolve_config_path,
)
from kioskapp.core.journal import JournalDB, JournalError, PaymentRow, SaleRow
from kioskapp.core.money import Money
from kioskapp.staff.pin import hash_pin, pin_problem
from kioskapp.staff.service import (
    MAX_NOTE_CHARS,
    AlreadyResolved,
    IncidentView,
    NoSuchRecord,
    StaffError,
    card_payment,
    cash_check,
    cashback_debited,
    flagged_without_incident,
    format_time,
    incident_views,
    money_taken,
    resolve_flagged_sale,
    resolve_incident,
    sale_detail_view,
    sale_views,
    unresolved_flagged_sales,
)

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class AdminError(Exception):
    """A request that cannot be done; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# -- the parser -----------------------------------------------------------------------------


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be between 1 and 10000")
    return value


#: The largest incident number (SQLite's INTEGER PRIMARY KEY).
MAX_ID = (1 << 63) - 1


def _incident_id(text: str) -> int:
    digits = text.removeprefix("#")
    value = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 19 else 0
    if not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(
            f"not an incident number: {text[:40]!r} (a whole number from 1 to {MAX_ID})"
        )
    return value


def _moment(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is the kiosk's local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or date-time: {text!r} (e.g. 2024-05-01 or 2024-05-01T14:30)"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def add_admin_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``admin`` and its actions to the ``kioskapp`` command's subparsers."""
    admin = sub.add_parser(
        "admin",
        help="sales, incidents, cash box, export, staff PIN, audit log (works while the app runs)",
        description=__doc__.split("\n\n")[2] if __doc__ else None,
    )
    config_help = "config file (default: $KIOSKAPP_CONFIG, else /etc/kioskapp/kiosk.toml)"
    admin.add_argument("--config", dest="admin_config", metavar="FILE", help=config_help)
    # Each action takes --config too (after it); SUPPRESS keeps the one given before.
    config_after = argparse.ArgumentParser(add_help=False)
    config_after.add_argument(
        "--config", dest="admin_config", metavar="FILE", default=argparse.SUPPRESS, help=config_help
    )
    parents = [config_after]
    act = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        return act.add_parser(name, help=help_text, parents=parents)

    sales = action("sales", "recent sales, newest first")
    sales.add_argument("--search", metavar="ID", help="only sales whose id starts with ID")
    sales.add_argument("--limit", metavar="N", type=_limit, default=50, help="at most N (50)")
    sale = action("sale", "one sale with its payments, effects and incidents")
    sale.add_argument("sale_id", metavar="ID")
    incidents = action("incidents", "open incidents (--all: resolved ones too)")
    incidents.add_argument("--all", action="store_true", help="resolved incidents too")
    incidents.add_argument("--limit", metavar="N", type=_limit, default=200, help="at most N")
    resolve = action("resolve", "resolve incident ID with a note of what was done")
    resolve.add_argument("incident_id", metavar="ID", type=_incident_id, nargs="?")
    resolve.add_argument(
        "--sale",
        metavar="SALE",
        help="instead of ID: a flagged sale that has no incident (`incidents` lists them)",
    )
    resolve.add_argument(
        "--note",
        required=True,
        help=f"what was done (required, not empty, at most {MAX_NOTE_CHARS} characters)",
    )
    action("cash", "the cash box since the last collection, checked against sales")
    export = action("export", "sales with their payments as CSV, one row per sale (audited)")
    export.add_argument("--csv", action="store_true", required=True, help="CSV (the only format)")
    export.add_argument("--output", metavar="FILE", type=Path, help="write here (default stdout)")
    export.add_argument("--since", metavar="T", type=_moment, help="sales created at or after T")
    export.add_argument("--until", metavar="T", type=_moment, help="sales created before T")
    set_pin = action(
        "set-pin", "set the staff PIN (4-12 digits) in the config file's [staff] pin_hash"
    )
    set_pin.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read the PIN from stdin (one line; asked without echo when stdin is a terminal)",
    )
    set_pin.add_argument(
        "--print-hash",
        action="store_true",
        help="only print the hash of the PIN (the config file is not touched)",
    )
    audit = action("audit", "the staff audit log, newest first")
    audit.add_argument("--limit", metavar="N", type=_limit, default=50, help="at most N (50)")


# -- running --------------------------------------------------------------------------------


@dataclass
class _Context:
    args: argparse.Namespace
    env: Mapping[str, str]
    out: IO[str]
    err: IO[str]

    @property
    def actor(self) -> str:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid{os.getuid()}"
        return f"{user}@admin"


def run_admin(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Run one ``kioskapp admin`` action; returns the exit status."""
    ctx = _Context(args, os.environ if env is None else env, out or sys.stdout, err or sys.stderr)
    try:
        handler = _HANDLERS[args.admin_command]
        return handler(ctx)
    except AdminError as exc:
        print(f"admin: {exc}", file=ctx.err)
        return exc.code
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config: {problem}", file=ctx.err)
        return EXIT_USAGE
    except JournalError as exc:
        print(f"admin: {exc}", file=ctx.err)
        return EXIT_FAILED
    except BrokenPipeError:  # `kioskapp admin export --csv | head`: the reader left
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as exc:  # a file we may not read or write
        print(f"admin: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=ctx.err)
        return EXIT_FAILED


def _config_path(ctx: _Context) -> tuple[Path, bool]:
    """(the config file, whether it was named explicitly)."""
    named = getattr(ctx.args, "admin_config", None) or getattr(ctx.args, "config", None)
    path = resolve_config_path(named, ctx.env)
    return path, bool(named) or path != DEFAULT_CONFIG_PATH


def _config(ctx: _Context) -> Config:
    path, named = _config_path(ctx)
    return load_config(path if (named or path.exists()) else None, env=ctx.env)


@contextmanager
def _journal(ctx: _Context, *, write: bool = False) -> Iterator[tuple[Config, JournalDB]]:
    """The config and its journal: read-only, or read-write for an action that audits
    (never created or migrated; JournalError when it is not a journal of this kioskapp)."""
    config = _config(ctx)
    path = config.journal.path
    if not path.is_file():
        raise AdminError(
            f"no journal at {path} (the kiosk has not run yet, or the config names another "
            "journal.path)"
        )
    db = JournalDB(path, existing="write" if write else "read")
    try:
        keep_owner(path)
        yield config, db
    finally:
        db.close()
        keep_owner(path)


def keep_owner(path: Path) -> None:
    """Run as root (``sudo kioskapp admin ...``), SQLite's side files (``-wal``, ``-shm``)
    that this process created would belong to root, and the kiosk (its own user) could
    not open the journal any more if one were left behind: give them the journal's owner."""
    if os.geteuid() != 0:
        return
    try:
        owner = path.stat()
    except OSError:
        return
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        try:
            st = side.stat()
            if (st.st_uid, st.st_gid) != (owner.st_uid, owner.st_gid):
                os.chown(side, owner.st_uid, owner.st_gid)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("admin: cannot give %s back to the journal's owner: %s", side, exc)


def _money(amount: Money | None) -> str:
    return "—" if amount is None else str(amount)


def _table(out: IO[str], header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for row in (header, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _sales(ctx: _Context) -> int:
    with _journal(ctx) as (_, db):
        try:
            sales = sale_views(db, ctx.args.search, ctx.args.limit)
        except StaffError as exc:
            raise AdminError(str(exc), EXIT_USAGE) from None
    rows = [
        (
            format_time(s.created_at),
            s.sale_id,
            s.status,
            s.product_sku or "—",
            str(s.price),
            str(s.paid),
            str(s.cashback) if s.cashback.minor else "—",
            "+".join(s.methods) or "—",
        )
        for s in sales
    ]
    header = ("created", "sale", "status", "product", "price", "paid", "cashback", "paid by")
    _table(ctx.out, header, rows)
    print(f"{len(sales)} sale(s)", file=ctx.out)
    return EXIT_OK


def _sale(ctx: _Context) -> int:
    with _journal(ctx) as (_, db):
        try:
            detail = sale_detail_view(db, ctx.args.sale_id)
        except StaffError as exc:
            raise AdminError(str(exc)) from None
    s, out = detail.sale, ctx.out
    print(f"sale {s.sale_id}: {s.status} (state {s.state})", file=out)
    print(f"  created {format_time(s.created_at)}, updated {format_time(s.updated_at)}", file=out)
    print(f"  product {s.product_sku or '—'} {s.product_name or ''}".rstrip(), file=out)
    cashback = f", cashback {s.cashback}" if s.cashback.minor else ""
    print(f"  price {s.price}, paid {s.paid}{cashback}", file=out)
    for p in detail.payments:
        card = f" {p.card_brand or 'card'} …{p.card_last4}" if p.card_last4 else ""
        auth = f" auth {p.auth_code}" if p.auth_code else ""
        comp = f", {p.compensation} {p.compensated}" if p.compensation else ""
        print(
            f"  payment {p.method} #{p.attempt}: {p.outcome or 'no outcome'} "
            f"taken {p.taken} of {p.amount}{card}{auth}{comp}",
            file=out,
        )
        if p.detail:
            print(f"    {p.detail}", file=out)
    for e in detail.effects:
        print(f"  effect {e.kind}: {e.status} ({format_time(e.intent_at)})", file=out)
    for i in detail.incidents:
        print(f"  incident #{i.id} {i.status} {i.kind}: {i.summary}", file=out)
    return EXIT_OK


def _incident_lines(i: IncidentView) -> list[str]:
    number = "#—" if i.id is None else f"#{i.id}"
    head = f"{number}  {i.status}  {format_time(i.created_at)}  {i.kind}"
    lines = [head, f"    {i.summary}"]
    facts = [
        ("sale", i.sale_id),
        ("amount", None if i.amount is None else str(i.amount)),
        ("method", i.payment_method),
        ("voucher", i.voucher_code),
        ("auth code", i.auth_code),
        ("card", None if i.card_last4 is None else f"…{i.card_last4}"),
    ]
    shown = [f"{k} {v}" for k, v in facts if v]
    if shown:
        lines.append("    " + ", ".join(shown))
    extra = i.other_details()
    if extra:
        lines.append("    details: " + "; ".join(f"{k}={v}" for k, v in extra.items()))
    if i.status == "resolved":
        lines.append(
            f"    resolved {format_time(i.resolved_at)} by {i.resolved_by}: {i.resolution_note}"
        )
    return lines


def _incidents(ctx: _Context) -> int:
    with _journal(ctx) as (_, db):
        incidents = incident_views(db, open_only=not ctx.args.all, limit=ctx.args.limit)
        missing = flagged_without_incident(db)
        unresolved = len(unresolved_flagged_sales(db))
    for incident in incidents:
        for line in _incident_lines(incident):
            print(line, file=ctx.out)
    what = "incident(s)" if ctx.args.all else "open incident(s)"
    print(f"{len(incidents)} {what}; {unresolved} flagged sale(s) unresolved", file=ctx.out)
    for sale_id in missing:
        print(
            f"admin: WARNING: flagged sale {sale_id} has no incident (listed as #—): resolve "
            f"it with `kioskapp admin resolve --sale {sale_id} --note TEXT`",
            file=ctx.err,
        )
    return EXIT_OK


def _resolve(ctx: _Context) -> int:
    note, incident_id, sale_id = ctx.args.note, ctx.args.incident_id, ctx.args.sale
    if (incident_id is None) == (sale_id is None):
        raise AdminError("give an incident number or --sale SALE (one of them)", EXIT_USAGE)
    if not note.strip():
        raise AdminError("the note is empty: say what was done (--note TEXT)", EXIT_USAGE)
    with _journal(ctx, write=True) as (_, db):
        try:
            if incident_id is not None:
                incident = resolve_incident(db, incident_id, note, actor=ctx.actor)
            else:
                incident = resolve_flagged_sale(db, sale_id, note, actor=ctx.actor)
        except (NoSuchRecord, AlreadyResolved) as exc:
            raise AdminError(str(exc)) from None
        except StaffError as exc:  # bad input: a note too long, a sale not flagged
            raise AdminError(str(exc), EXIT_USAGE) from None
    print(f"incident #{incident.id} resolved by {incident.resolved_by}", file=ctx.out)
    return EXIT_OK


def _cash(ctx: _Context) -> int:
    with _journal(ctx) as (config, db):
        check = cash_check(db, config.kiosk.currency)
    box, out = check.box, ctx.out
    since = "the first sale" if box.since is None else format_time(box.since)
    print(f"cash box since {since}:", file=out)
    rows = [(str(n.value), str(n.count), str(n.total)) for n in box.notes]
    _table(out, ("note", "count", "value"), rows)
    print(f"total {box.total} in {box.note_count} note(s)", file=out)
    verdict = "matches" if check.balanced else "DOES NOT MATCH"
    print(
        f"journal: cash taken {check.taken} - collected {check.collected} = "
        f"{check.expected}: {verdict}",
        file=out,
    )
    return EXIT_OK if check.balanced else EXIT_FAILED


def _audit(ctx: _Context) -> int:
    with _journal(ctx) as (_, db):
        rows = db.audit(limit=ctx.args.limit)
    for row in rows:
        details = " ".join(f"{k}={v}" for k, v in sorted(row.details.items()))
        print(f"{format_time(row.at)}  {row.actor}  {row.action}  {details}".rstrip(), file=ctx.out)
    print(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}", file=ctx.out)
    return EXIT_OK


# -- export ---------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "sale_id",
    "created_at",
    "updated_at",
    "status",
    "state",
    "product_sku",
    "product_name",
    "currency",
    "price",
    "paid",
    "cash_taken",
    "card_taken",
    "cashback_debited",
    "compensated",
    "delivered",
    "flagged",
    "payment_methods",
    "payment_outcomes",
    "card_brand",
    "card_last4",
    "auth_code",
    "incidents",
)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def _text_cell(value: str | None) -> str:
    """Free text for a spreadsheet: a leading = + - @ would run as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_row(sale: SaleRow, payments: list[PaymentRow], incidents: list[int]) -> dict[str, str]:
    """One CSV row: money as decimal strings in ``currency`` ("12.50"), times ISO 8601.
    ``paid`` is what the payments took (``cash_taken`` + ``card_taken``);
    ``cashback_debited`` the value taken from the customer's cashback card."""
    cur = sale.currency

    def money(minor: int) -> str:
        return Money(minor, cur).format_plain()

    def data_minor(key: str) -> int:
        value = sale.data.get(key, 0)
        return value if isinstance(value, int) else 0

    card = card_payment([p for p in payments if p.taken.currency == cur])
    cashback = cashback_debited(sale)
    methods = [*dict.fromkeys(p.method for p in payments), *(["cashback"] if cashback else [])]
    return {
        "sale_id": sale.sale_id,
        "created_at": _iso(sale.created_at),
        "updated_at": _iso(sale.updated_at),
        "status": sale.status,
        "state": sale.state,
        "product_sku": _text_cell(sale.product_sku),
        "product_name": _text_cell(sale.product_name),
        "currency": cur,
        "price": sale.price.format_plain(),
        "paid": money_taken(payments, cur).format_plain(),
        "cash_taken": money_taken(payments, cur, "cash").format_plain(),
        "card_taken": money_taken(payments, cur, "card").format_plain(),
        "cashback_debited": cashback.format_plain(),
        "compensated": money(data_minor("compensated_minor")),
        "delivered": money(data_minor("delivered_minor")),
        "flagged": money(data_minor("flagged_minor")),
        "payment_methods": "+".join(methods),
        "payment_outcomes": "+".join(f"{p.method}:{p.outcome or 'none'}" for p in payments),
        "card_brand": _text_cell(card.card_brand if card else None),
        "card_last4": (card.card_last4 or "")[-4:] if card else "",
        "auth_code": _text_cell(card.auth_code if card else None),
        "incidents": " ".join(str(i) for i in incidents),
    }


def write_export(db: JournalDB, stream: IO[str], since: float | None, until: float | None) -> int:
    """Write the CSV (header + one row per sale, oldest first); returns the row count."""
    writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for sale in db.sales_between(since, until):
        incidents = [i.id for i in db.sale_incidents(sale.sale_id)]
        writer.writerow(export_row(sale, db.payments(sale.sale_id), incidents))
        count += 1
    return count


def _export(ctx: _Context) -> int:
    """The CSV holds card last-4 digits and auth codes: the export is audited
    (``sales.export``) before any of it is written out."""
    since = ctx.args.since.timestamp() if ctx.args.since else None
    until = ctx.args.until.timestamp() if ctx.args.until else None
    if since is not None and until is not None and until <= since:
        raise AdminError("--until must be after --since", EXIT_USAGE)
    output: Path | None = ctx.args.output
    buffer = io.StringIO(newline="")
    with _journal(ctx, write=True) as (_, db):
        count = write_export(db, buffer, since, until)
        db.add_audit(
            ctx.actor,
            "sales.export",
            {
                "format": "csv",
                "since": _iso(since) if since is not None else None,
                "until": _iso(until) if until is not None else None,
                "sales": count,
                "output": "stdout" if output is None else str(output.absolute()),
            },
        )
    if output is None:
        ctx.out.write(buffer.getvalue())
    else:
        _write_atomically(output, buffer.getvalue().encode("utf-8"), mode=0o640)
        print(f"{count} sale(s) written to {output}", file=ctx.err)
    return EXIT_OK


# -- set-pin --------------------------------------------------------------------------------


def _read_pin(ctx: _Context) -> str:
    if ctx.args.pin_stdin and sys.stdin.isatty():
        # A PIN typed at a terminal is never echoed.
        try:
            pin = getpass.getpass("Staff PIN (4-12 digits): ")
        except (EOFError, KeyboardInterrupt):
            raise AdminError("no PIN given", EXIT_USAGE) from None
    elif ctx.args.pin_stdin:
        line = sys.stdin.readline()
        pin = line.rstrip("\r\n")
    else:
        try:
            pin = getpass.getpass("New staff PIN (4-12 digits): ")
            again = getpass.getpass("Repeat the PIN: ")
        except (EOFError, KeyboardInterrupt):
            raise AdminError("no PIN given", EXIT_USAGE) from None
        if pin != again:
            raise AdminError("the two PINs differ; nothing changed", EXIT_USAGE)
    problem = pin_problem(pin)
    if problem is not None:
        raise AdminError(f"{problem}; nothing changed", EXIT_USAGE)
    return pin


def _set_pin(ctx: _Context) -> int:
    if ctx.args.print_hash:
        print(hash_pin(_read_pin(ctx)), file=ctx.out)
        return EXIT_OK
    path, _ = _config_path(ctx)
    if not path.is_file():
        raise AdminError(
            f"no config file at {path}: create it first (kioskapp config example), or use "
            "--print-hash and put the hash in the config yourself"
        )
    env_var = env_var_name("staff", "pin_hash")
    pin = _read_pin(ctx)
    pin_hash = hash_pin(pin)
    # A symlinked config (e.g. to a managed file) stays a link: its target is edited.
    # Read after the prompt: an edit made meanwhile is kept.
    target = path.resolve()
    updated = set_pin_hash_in_toml(target.read_bytes(), pin_hash, where=str(path))
    _write_atomically(target, updated, like=target)
    print(f"{path}: staff PIN set; restart the kiosk app to use it", file=ctx.err)
    for var in (env_var, env_var + "_FILE"):
        if var in ctx.env:
            print(f"admin: note: ${var} is set and overrides the file", file=ctx.err)
    _audit_if_journal(ctx, "staff.set_pin", {"config": str(path)})
    return EXIT_OK


def _audit_if_journal(ctx: _Context, action: str, details: dict[str, Any]) -> None:
    """Audit into the journal when there is one (set-pin must work before the first run);
    a file that is not a journal of this kioskapp is left alone."""
    try:
        config = _config(ctx)
    except ConfigError:
        return
    if not config.journal.path.is_file():
        return
    try:
        db = JournalDB(config.journal.path, existing="write")
    except JournalError as exc:
        print(f"admin: note: not audited ({exc})", file=ctx.err)
        return
    try:
        db.add_audit(ctx.actor, action, details)
    finally:
        db.close()


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_pin_hash_in_toml(data: bytes, pin_hash: str, *, where: str = "the config") -> bytes:
    """The config file's bytes with ``[staff] pin_hash`` set to ``pin_hash``; every other
    byte unchanged. AdminError when the file cannot be edited safely (say how instead)."""
    try:
        text = data.decode("utf-8")
        parsed = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AdminError(f"{where} is not valid TOML ({exc}); nothing changed") from None
    staff = parsed.get("staff", {})
    if not isinstance(staff, dict):
        raise AdminError(f"{where}: 'staff' is not a table; nothing changed")
    if "pin_hash_file" in staff:
        raise AdminError(
            f"{where} reads the PIN hash from a file (staff.pin_hash_file): write the output "
            "of `kioskapp admin set-pin --print-hash` into that file"
        )
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    entry = f"pin_hash = {_toml_string(pin_hash)}"
    section: str | None = None
    header_at: int | None = None
    replaced = False
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped.strip("[] \t").split("#")[0].strip().strip("[]").strip()
            if section == "staff":
                header_at = number
            continue
        if stripped.startswith("[["):
            section = None
            continue
        if section == "staff" and _is_key(stripped, "pin_hash"):
            ending = line[len(line.rstrip("\r\n")) :]
            indent = line[: len(line) - len(line.lstrip())]
            lines[number] = f"{indent}{entry}{ending or newline}"
            replaced = True
            break
    if not replaced:
        if "pin_hash" in staff:  # set some other way (dotted key, inline table)
            raise AdminError(
                f"{where} sets staff.pin_hash in a form this command does not edit; put "
                f"this line in its [staff] table by hand: {entry}"
            )
        if header_at is not None:
            lines.insert(header_at + 1, entry + newline)
        elif "staff" in parsed:
            raise AdminError(
                f"{where} defines 'staff' without a [staff] header; add this line to it by "
                f"hand: {entry}"
            )
        else:
            tail = "" if not lines or lines[-1].endswith(("\n", "\r")) else newline
            lines.append(f"{tail}{newline}[staff]{newline}{entry}{newline}")
    result = "".join(lines)
    try:
        check = tomllib.loads(result)
    except tomllib.TOMLDecodeError:
        check = {}
    if check.get("staff", {}).get("pin_hash") != pin_hash or _without_pin(check) != _without_pin(
        parsed
    ):
        raise AdminError(
            f"{where}: could not set staff.pin_hash safely; nothing changed. Put this line "
            f"in its [staff] table by hand: {entry}"
        )
    return result.encode("utf-8")


def _without_pin(parsed: dict[str, Any]) -> dict[str, Any]:
    out = dict(parsed)
    staff = out.get("staff")
    if isinstance(staff, dict):
        staff = {k: v for k, v in staff.items() if k != "pin_hash"}
        if staff:
            out["staff"] = staff
        else:
            out.pop("staff")
    return out


def _is_key(stripped: str, key: str) -> bool:
    for quote in ("", '"', "'"):
        name = f"{quote}{key}{quote}"
        if stripped.startswith(name) and stripped[len(name) :].lstrip().startswith("="):
            return True
    return False


def _write_atomically(
    path: Path, data: bytes, *, like: Path | None = None, mode: int = 0o600
) -> None:
    """Replace ``path`` with ``data`` (write a temporary file beside it, fsync, rename);
    with ``like``, keep that file's mode and owner. AdminError naming ``path`` when it
    cannot be written."""
    try:
        _replace(path, data, like, mode)
    except OSError as exc:
        raise AdminError(f"cannot write {path}: {exc.strerror or exc}; nothing changed") from None


def _replace(path: Path, data: bytes, like: Path | None, mode: int) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    stat = like.stat() if like is not None else None
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), stat.st_mode & 0o7777 if stat else mode)
            if stat is not None and (stat.st_uid, stat.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(handle.fileno(), stat.st_uid, stat.st_gid)
                except PermissionError:
                    raise AdminError(
                        f"cannot keep the owner of {path} (run as its owner or root); "
                        "nothing changed"
                    ) from None
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


_HANDLERS = {
    "sales": _sales,
    "sale": _sale,
    "incidents": _incidents,
    "resolve": _resolve,
    "cash": _cash,
    "export": _export,
    "set-pin": _set_pin,
    "audit": _audit,
}

__all__ = [
    "EXPORT_COLUMNS",
    "AdminError",
    "add_admin_parser",
    "export_row",
    "run_admin",
    "set_pin_hash_in_toml",
    "write_export",
]
