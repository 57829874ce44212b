"""``crossmargin accounts remark``: a thin face over ``kernels.batch`` (read Parquet, pack, re-mark, write).

``register(app)`` adds the ``accounts`` group to a typer app. Input: one row per position (columns
``ACCOUNT_COLUMNS``) and one mark per symbol (``symbol``, ``mark``). Output: ``OUT`` (one row per account)
and ``OUT`` with suffix ``.positions.parquet`` (one row per position). Every figure comes from ``remark``;
numpy, pandas and numba are imported inside the command.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossmargin.cli.render import danger, fail, stderr_progress
from crossmargin.errors import CrossmarginError, InputError
from crossmargin.model import Account, MarginMode, Position, Side
from crossmargin.venues import get_rules

if TYPE_CHECKING:
    import pandas as pd
    from rich.progress import Progress

__all__ = ["ACCOUNT_COLUMNS", "MARK_COLUMNS", "positions_path", "read_accounts", "read_marks", "register"]

#: Columns of the accounts file, one row per position (``isolated_margin`` empty for a cross position).
ACCOUNT_COLUMNS = (
    "account",
    "wallet_balance",
    "symbol",
    "side",
    "size",
    "entry_price",
    "leverage",
    "margin_mode",
    "isolated_margin",
)
#: Columns of the marks file, one row per symbol (mark in quote currency).
MARK_COLUMNS = ("symbol", "mark")


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415 - see the module docstring

    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise InputError(str(path), None, "a readable Parquet file", detail=f"cannot read {path}: {error}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            str(path), None, ", ".join(columns), detail=f"{path.name}: missing column {', '.join(missing)}"
        )
    return frame


def _number(value: Any, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(field, value, "a number") from None
    return number


def read_accounts(path: Path, venue: str, progress: Progress | None = None) -> tuple[list[str], list[Account]]:
    """Return the account ids (first-seen order) and accounts of an accounts file; InputError on bad rows."""
    frame = _read(path, ACCOUNT_COLUMNS)
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for row, record in enumerate(frame.to_dict("records")):
        groups.setdefault(str(record["account"]), []).append((row, record))
    task = progress.add_task("reading accounts", total=len(groups)) if progress is not None else None
    ids, accounts = [], []
    for key, rows in groups.items():
        positions = []
        wallet = _number(rows[0][1]["wallet_balance"], f"row {rows[0][0]}: wallet_balance")
        for row, record in rows:
            where = f"row {row}: "
            try:
                if _number(record["wallet_balance"], "wallet_balance") != wallet:
                    raise InputError("wallet_balance", record["wallet_balance"], f"{wallet} (one per account)")
                isolated = _number(record["isolated_margin"], "isolated_margin")
                positions.append(
                    Position(
                        symbol=str(record["symbol"]),
                        side=Side.parse("side", record["side"]),
                        size=_number(record["size"], "size"),
                        entry_price=_number(record["entry_price"], "entry_price"),
                        leverage=_number(record["leverage"], "leverage"),
                        mode=MarginMode.parse("margin_mode", record["margin_mode"]),
                        isolated_margin=None if math.isnan(isolated) else isolated,
                    )
                )
            except InputError as error:
                raise error.prefixed(where) from None
        try:
            accounts.append(Account(venue=venue, wallet_balance=wallet, positions=tuple(positions)))
        except InputError as error:
            raise error.prefixed(f"account {key}: ") from None
        ids.append(key)
        if progress is not None and task is not None:
            progress.advance(task)
    return ids, accounts


def read_marks(path: Path) -> dict[str, float]:
    """Return the marks file as symbol -> mark (quote); InputError on a non-positive or duplicate mark."""
    frame = _read(path, MARK_COLUMNS)
    marks: dict[str, float] = {}
    for symbol, value in zip(frame["symbol"], frame["mark"], strict=True):
        mark = _number(value, f"mark of {symbol}")
        if not (math.isfinite(mark) and mark > 0):
            raise InputError(f"mark of {symbol}", value, "a finite price > 0")
        if str(symbol) in marks:
            raise InputError("symbol", symbol, "one mark per symbol", detail=f"duplicate mark for {symbol}")
        marks[str(symbol)] = mark
    return marks


def positions_path(out: Path) -> Path:
    """Return where the per-position table of ``out`` is written: ``out`` with suffix ``.positions.parquet``."""
    return out.with_name(f"{out.stem}.positions.parquet")


def _remark(accounts_file: Path, marks_file: Path, venue: str, out: Path) -> tuple[int, int, int]:
    """Re-mark the accounts of ``accounts_file`` at ``marks_file`` and write ``out`` and its positions file.

    Returns how many accounts and positions were re-marked and how many accounts are liquidated at the marks.
    """
    import numpy as np  # noqa: PLC0415 - see the module docstring
    import pandas as pd  # noqa: PLC0415

    from crossmargin.kernels.batch import pack_accounts, remark  # noqa: PLC0415

    rules = get_rules(venue)
    with stderr_progress("{task.description}") as progress:
        ids, accounts = read_accounts(accounts_file, rules.name, progress)
        marks = read_marks(marks_file)
        held = sorted({p.symbol for a in accounts for p in a.positions})
        unmarked = [s for s in held if s not in marks]
        if unmarked:
            raise InputError(str(marks_file), None, "a mark for every held symbol", detail=f"no mark for {unmarked[0]}")
        step = progress.add_task("re-marking", total=2)
        book = pack_accounts(accounts, rules, held)
        progress.advance(step)
        result = remark(book, np.array([marks[s] for s in held], dtype=np.float64))
        progress.advance(step)
    pd.DataFrame(
        {
            "account": ids,
            "margin_balance": result.margin_balance,
            "requirement": result.requirement,
            "margin_ratio": result.margin_ratio,
            "liquidated": result.liquidated,
        }
    ).to_parquet(out, index=False)
    pd.DataFrame(
        {
            "account": [ids[a] for a in book.account],
            "symbol": [held[k] for k in book.symbol],
            "side": np.where(book.side > 0, "long", "short"),
            "size": book.size,
            "liquidation_price": result.liquidation_price,
        }
    ).to_parquet(positions_path(out), index=False)
    return len(ids), len(book.account), int(np.count_nonzero(result.liquidated))


def register(app: typer.Typer) -> None:
    """Add the ``accounts`` group with its ``remark`` command to ``app``."""
    accounts_app = typer.Typer(no_args_is_help=True, help="Many accounts at once (Parquet in, Parquet out).")

    @accounts_app.command("remark")
    def accounts_remark(
        accounts_file: Annotated[Path, typer.Argument(help="Positions, one row each (see docs/batch.md).")],
        marks_file: Annotated[Path, typer.Argument(help="Marks: columns symbol, mark (quote).")],
        venue: Annotated[str, typer.Option("--venue", help="Venue whose rules apply.")] = "binance",
        out: Annotated[
            Path, typer.Option("--out", help="Per-account Parquet; per position beside it (.positions.parquet).")
        ] = Path("remark.parquet"),
    ) -> None:
        """Re-mark every account at the given marks: balance, requirement, ratio, flag, liquidation prices."""
        from rich.console import Console  # noqa: PLC0415 - rich: only when something is printed
        from rich.text import Text  # noqa: PLC0415

        try:
            accounts, positions, liquidated = _remark(accounts_file, marks_file, venue, out)
        except CrossmarginError as error:
            raise fail(error) from None
        except OSError as error:
            raise fail(error, str(out)) from None
        summary = Text.assemble(
            f"re-marked {accounts:,} accounts ({positions:,} positions) on {venue}: ",
            danger(f"{liquidated:,} liquidated", 2 if liquidated else 0),
            f"; wrote {out} and {positions_path(out)}",
        )
        Console(highlight=False).print(summary, soft_wrap=True)

    app.add_typer(accounts_app, name="accounts")
