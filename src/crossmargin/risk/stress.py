"""Stress tests: shocks applied to today's marks, the book checked as given, then all cross and all isolated.

risk-methods.md §2. A ``Scenario`` is a set of simple returns per symbol (-0.3 = -30 %), applied to the
portfolio's current marks as ``mark x (1 + move)``; a symbol without a move keeps its mark (or takes the
scenario's ``others`` move). Three sources of scenarios:

- **historical** (§2.1, §2.2 'instant shock'): for each crash episode shipped in ``risk/data`` (real 1h
  Binance bars, provenance beside them), the peak-to-trough move of every symbol (highest high to the
  lowest later low, each symbol at its own worst) and the worst joint move (every symbol's return from
  the window's first open to the close of the hour at which the equal-weight basket of those returns is
  lowest: one simultaneous snapshot);
- **hypothetical** (§2.3): venue grids (OKX MR1 edge, MR6 extreme moves, Deribit/Paradex extended moves),
  correlation breaks, alt-beta blow-outs, mark/index divergence, a stablecoin depeg;
- **grids** (``shock_grid``): two symbols moved over a 2-D grid, the rest held (``stress_grid`` evaluates
  one; its heat map is drawn by ``report.stress_figure``).

``run_stress`` evaluates every scenario with ``crossmargin.margin.evaluate`` (equity after, pool ratios,
which positions' pools breach) and ``crossmargin.margin.liquidate`` (what the venue's liquidation leaves
the account) for three books (``MODES``): the book as given (each position in its file's mode), then
two what-ifs of the same positions, ``all_cross`` and ``all_isolated`` (a position already isolated keeps
its own margin). No margin formula is re-derived here. Money in the quote currency, moves and ratios as
fractions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from crossmargin.data.load import load_bars
from crossmargin.errors import DataError, InputError, suggest
from crossmargin.margin.account import evaluate
from crossmargin.margin.liquidate import liquidate
from crossmargin.margin.pools import risk_view
from crossmargin.model import Account, Marks, Position
from crossmargin.portfolio import MODE_LABELS, MODES, Portfolio, compare_modes
from crossmargin.risk.portfolio_margin import load_pm_params
from crossmargin.venues.base import VenueRules

__all__ = [
    "CORRELATION_BREAKS",
    "EXTENDED_MOVES",
    "MARK_DIVERGENCE",
    "MAX_STEPS",
    "MODES",
    "MODE_LABELS",
    "QUOTES",
    "BoolArray",
    "Episode",
    "EpisodeBars",
    "FloatArray",
    "Scenario",
    "StressGrid",
    "StressReport",
    "StressRow",
    "base_of",
    "episode_coverage",
    "episodes",
    "grid_moves",
    "historical_scenarios",
    "hypothetical_scenarios",
    "peak_to_trough",
    "run_stress",
    "shock_grid",
    "stress_grid",
    "worst_joint_move",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Quote currencies stripped from a venue symbol to find its base ('BTCUSDT' -> 'BTC').
QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD")
#: The most grid points on each side of zero that ``grid_moves`` accepts.
MAX_STEPS = 100


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named set of simple returns per symbol (fractions: -0.3 = -30 %), applied to today's marks.

    ``kind``: 'historical', 'hypothetical' or 'grid'; ``source``: where the moves come from. ``others``:
    the move of any symbol without one of its own (default 0: it keeps its mark). A move must be > -1 (a
    price stays > 0).
    """

    name: str
    moves: Mapping[str, float]
    kind: str
    source: str
    others: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError("name", self.name, "a non-empty scenario name")
        checked = {symbol: _return(f"moves.{symbol}", move) for symbol, move in self.moves.items()}
        object.__setattr__(self, "moves", MappingProxyType(checked))
        object.__setattr__(self, "others", _return("others", self.others))

    def move(self, symbol: str) -> float:
        """Return the return (fraction) this scenario applies to ``symbol``."""
        return self.moves.get(symbol, self.others)

    def apply(self, marks: Marks) -> Marks:
        """Return ``marks`` with every symbol at ``mark x (1 + move)`` (quote currency)."""
        return Marks({symbol: price * (1.0 + self.move(symbol)) for symbol, price in marks.prices.items()})


def _return(field_name: str, move: object) -> float:
    if isinstance(move, bool) or not isinstance(move, (int, float)) or not math.isfinite(move) or move <= -1:
        raise InputError(field_name, move, "a finite return > -1 (fraction: -0.3 = -30 %)")
    return float(move)


def base_of(symbol: str) -> str:
    """Return the base currency named by a venue symbol: 'BTCUSDT', 'BTC-USDT-SWAP', 'BTC/USDT:USDT', 'BTC' -> 'BTC'."""
    text = symbol.upper()
    for separator in ("/", "-"):
        if separator in text:
            return text.split(separator)[0]
    for quote in QUOTES:
        if text.endswith(quote) and len(text) > len(quote):
            return text[: -len(quote)]
    return text


# --- historical episodes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeBars:
    """The shipped 1h bars of one base in one episode: file in ``risk/data``, market ('perp' or 'spot')."""

    base: str
    file: str
    market: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """A crash episode of ``shared/data/PROVENANCE.md``: its window (first and last bar open, UTC) and bars."""

    id: str
    title: str
    first_bar: str
    last_bar: str
    note: str
    bars: Mapping[str, EpisodeBars]

    def frame(self, base: str) -> pd.DataFrame:
        """Return the episode's bars of ``base`` (open time ms UTC, quote-currency prices)."""
        entry = self.bars[base]
        path = Path(str(resources.files("crossmargin.risk").joinpath("data", entry.file)))
        return load_bars(path, symbol=f"{base}USDT")

    def describe(self, bases: Iterable[str]) -> str:
        """Return the data behind the episode's scenarios for ``bases``, in one line."""
        parts = [f"{base} {self.bars[base].market}" for base in bases]
        return (
            f"{self.title}: Binance 1h bars ({', '.join(parts)}; perp = USDⓈ-M last trade), "
            f"{self.first_bar} .. {self.last_bar} UTC, shipped in crossmargin/risk/data"
        )


@lru_cache(maxsize=1)
def episodes() -> tuple[Episode, ...]:
    """Return the shipped crash episodes (``risk/data/episodes.json``), oldest first."""
    text = resources.files("crossmargin.risk").joinpath("data", "episodes.json").read_text(encoding="utf-8")
    return tuple(
        Episode(
            id=entry["id"],
            title=entry["title"],
            first_bar=entry["first_bar"],
            last_bar=entry["last_bar"],
            note=entry["note"],
            bars=MappingProxyType(
                {
                    base: EpisodeBars(base=base, file=bars["file"], market=bars["market"], source=bars["source"])
                    for base, bars in entry["bars"].items()
                }
            ),
        )
        for entry in json.loads(text)["episodes"]
    )


def peak_to_trough(bars: pd.DataFrame) -> float:
    """Return the largest fall (fraction, <= 0) from a running peak of highs to a low at or after it.

    ``min_t(low_t / max_{s <= t} high_s) - 1``: equal to ``min(low) / max(high) - 1`` when the highest high
    comes no later than the lowest low.
    """
    high = bars["high"].to_numpy(dtype=np.float64)
    low = bars["low"].to_numpy(dtype=np.float64)
    return float(np.min(low / np.maximum.accumulate(high)) - 1.0)


def worst_joint_move(frames: Mapping[str, pd.DataFrame]) -> tuple[int, dict[str, float]]:
    """Return the bar (open time, ms UTC) at which the equal-weight basket is lowest, and each return there.

    Each base's return is ``close_t / open_first - 1``; the basket is their mean. Raises DataError when the
    frames do not share the same bars.
    """
    bases = list(frames)
    times = frames[bases[0]]["timestamp"].to_numpy()
    for base in bases[1:]:
        if not np.array_equal(frames[base]["timestamp"].to_numpy(), times):
            raise DataError(f"episode bars of {bases[0]} and {base} do not cover the same hours")
    returns = {
        base: frame["close"].to_numpy(dtype=np.float64) / float(frame["open"].iloc[0]) - 1.0
        for base, frame in frames.items()
    }
    basket = np.mean(np.vstack([returns[base] for base in bases]), axis=0)
    at = int(np.argmin(basket))
    return int(times[at]), {base: float(returns[base][at]) for base in bases}


def _bases(symbols: Sequence[str], bases: Mapping[str, str] | None) -> dict[str, str]:
    return {symbol: (bases or {}).get(symbol) or base_of(symbol) for symbol in symbols}


def episode_coverage(symbols: Iterable[str], *, bases: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """Return, per shipped episode, the bases of ``symbols`` it has no bars for (empty: it covers them all)."""
    needed = sorted(set(_bases(list(dict.fromkeys(symbols)), bases).values()))
    return {episode.id: tuple(base for base in needed if base not in episode.bars) for episode in episodes()}


def historical_scenarios(symbols: Iterable[str], *, bases: Mapping[str, str] | None = None) -> list[Scenario]:
    """Return two scenarios per shipped episode whose bars cover every base of ``symbols``.

    '<episode> peak-to-trough': each symbol's ``peak_to_trough`` in the episode window; '<episode> worst
    joint hour': each symbol's return at the basket's lowest close (``worst_joint_move``). Symbols map to
    bases with ``base_of`` unless ``bases`` gives them (e.g. from ``VenueRules.instrument(symbol).base``).
    """
    ordered = list(dict.fromkeys(symbols))
    if not ordered:
        return []
    base = _bases(ordered, bases)
    needed = sorted(set(base.values()))
    scenarios = []
    for episode in episodes():
        if any(b not in episode.bars for b in needed):
            continue
        frames = {b: episode.frame(b) for b in needed}
        falls = {b: peak_to_trough(frames[b]) for b in needed}
        at, joint = worst_joint_move(frames)
        described = episode.describe(needed)
        scenarios.append(
            Scenario(
                f"{episode.id} peak-to-trough",
                {symbol: falls[base[symbol]] for symbol in ordered},
                "historical",
                f"{described}; each symbol from its highest high to its lowest later low (instant shock)",
            )
        )
        scenarios.append(
            Scenario(
                f"{episode.id} worst joint hour",
                {symbol: joint[base[symbol]] for symbol in ordered},
                "historical",
                f"{described}; returns from the first open to the close of {pd.Timestamp(at, unit='ms'):%Y-%m-%d %H:%M}"
                " UTC, where the equal-weight basket is lowest",
            )
        )
    return scenarios


# --- hypothetical scenarios and grids -----------------------------------------------------------------

#: Correlation breaks (risk-methods §2.3, each with its reverse): (name, moves by base). Kept only where
#: the portfolio holds every base named.
CORRELATION_BREAKS: tuple[tuple[str, Mapping[str, float]], ...] = (
    ("BTC +8% / ETH -8%", {"BTC": 0.08, "ETH": -0.08}),
    ("BTC -8% / ETH +8%", {"BTC": -0.08, "ETH": 0.08}),
    ("BTC flat / ETH -15%", {"BTC": 0.0, "ETH": -0.15}),
    ("BTC flat / ETH +15%", {"BTC": 0.0, "ETH": 0.15}),
    ("BTC -5% / SOL -25%", {"BTC": -0.05, "SOL": -0.25}),
    ("BTC +5% / SOL +25%", {"BTC": 0.05, "SOL": 0.25}),
)
#: Deribit / Paradex extended moves kept for perpetuals (every underlying at once). +200 % .. +500 % are
#: left out: they target far out-of-the-money short options, and +100 % already liquidates any short perp.
EXTENDED_MOVES = (-0.66, -0.33, 0.5, 1.0)
#: Drift's mark/oracle divergence threshold (fraction).
MARK_DIVERGENCE = 0.0333


def _by_base(
    symbols: Sequence[str], base: Mapping[str, str], moves: Mapping[str, float], others: float
) -> dict[str, float]:
    return {symbol: moves.get(base[symbol], others) for symbol in symbols}


def hypothetical_scenarios(
    symbols: Iterable[str], *, settle: str = "USDT", bases: Mapping[str, str] | None = None
) -> list[Scenario]:
    """Return the default hypothetical set of risk-methods §2.3 for ``symbols`` (moves as fractions).

    OKX MR1 edge and MR6 extreme moves (down and up, each symbol by its own group's range, from
    ``risk/data/pm_okx.json``); Deribit/Paradex extended moves; correlation breaks and their reverses (where
    the portfolio holds both bases); an alt-beta blow-out (BTC -12 %, ETH -20 %, SOL -30 %, others -60 %);
    alts -50 % with BTC -20 %; mark/index divergence of ±3.33 %; ``settle`` depegged to 0.97 and 0.90 USD
    (every mark in ``settle`` rises by ``1 / peg - 1``).
    """
    ordered = list(dict.fromkeys(symbols))
    if not ordered:
        return []
    base = _bases(ordered, bases)
    held = set(base.values())
    params = load_pm_params()
    okx = f"OKX Portfolio Margin, as of {params.sources['spot_shock'].as_of} (crossmargin/risk/data/pm_okx.json)"
    scenarios = []
    for sign, word in ((-1.0, "down"), (1.0, "up")):
        scenarios.append(
            Scenario(
                f"OKX MR1 edge {word}",
                {s: sign * params.spot_shock.move_for(base[s]) for s in ordered},
                "hypothetical",
                f"OKX PM spot-shock grid edge (BTC/ETH 12 %, mid caps 18 %, others 25 %): {okx}",
            )
        )
    for sign, word in ((-1.0, "down"), (1.0, "up")):
        scenarios.append(
            Scenario(
                f"OKX MR6 extreme {word}",
                {s: sign * params.extreme_move.move_for(base[s]) for s in ordered},
                "hypothetical",
                f"OKX PM extreme move (BTC/ETH 24 %, SOL and mid caps 36 %, others 50 %): {okx}",
            )
        )
    for move in EXTENDED_MOVES:
        scenarios.append(
            Scenario(
                f"extended {move:+.0%}",
                dict.fromkeys(ordered, move),
                "hypothetical",
                f"Deribit/Paradex extended scenario (Paradex weight 0.16/|move| = {0.16 / abs(move):.1%}), "
                "every underlying at once",
            )
        )
    for name, moves in CORRELATION_BREAKS:
        if set(moves) <= held:
            scenarios.append(
                Scenario(
                    name,
                    _by_base(ordered, base, moves, 0.0),
                    "hypothetical",
                    "correlation break (risk-methods §2.3; the zero-correlation leg of Variational's"
                    " decorrelation risk)",
                )
            )
    blowout = {"BTC": -0.12, "ETH": -0.20, "SOL": -0.30}
    scenarios.append(
        Scenario(
            "alt-beta blow-out",
            _by_base(ordered, base, blowout, -0.60),
            "hypothetical",
            "BTC -12 %, ETH -20 %, SOL -30 %, long tail -60 % in 1 h (calibrated to 2025-10-10, risk-methods §2.3)",
        )
    )
    scenarios.append(
        Scenario(
            "alts -50% / BTC -20%",
            _by_base(ordered, base, {"BTC": -0.20}, -0.50),
            "hypothetical",
            "every underlying but BTC -50 %, BTC -20 % (alts decouple downwards)",
        )
    )
    for sign, word in ((1.0, "up"), (-1.0, "down")):
        scenarios.append(
            Scenario(
                f"mark {word} 3.33% vs index",
                dict.fromkeys(ordered, sign * MARK_DIVERGENCE),
                "hypothetical",
                "mark/oracle divergence at Drift's 3.33 % threshold, every mark at once (risk-methods §2.3)",
            )
        )
    for peg in (0.97, 0.90):
        scenarios.append(
            Scenario(
                f"{settle} depeg to {peg:.2f} USD",
                dict.fromkeys(ordered, 1.0 / peg - 1.0),
                "hypothetical",
                f"{settle}/USD at {peg:.2f} with USD prices unchanged: marks in {settle} rise by 1/{peg:.2f} - 1; "
                f"equity stays in {settle} (its USD value falls by the depeg); OKX MR9 tiers, risk-methods §2.3",
            )
        )
    return scenarios


def grid_moves(extent: float, step: float, *, extent_field: str = "range", step_field: str = "step") -> list[float]:
    """Return the moves ``-extent, -extent + step, ..., 0, ..., +extent`` (fractions).

    Raises InputError unless ``0 < extent < 1``, ``0 < step <= extent``, ``extent / step`` is a whole number
    and at most ``MAX_STEPS``.
    """
    for name, value in ((extent_field, extent), (step_field, step)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(name, value, "a finite fraction")
    if not 0.0 < extent < 1.0:
        raise InputError(extent_field, extent, "a fraction in (0, 1), e.g. 0.3 for ±30 %")
    if not 0.0 < step <= extent:
        raise InputError(step_field, step, f"a fraction in (0, {extent:g}] (the {extent_field})")
    count = extent / step
    if not math.isfinite(count) or count > MAX_STEPS + 1:
        raise InputError(step_field, step, f"a step of at least {extent / MAX_STEPS:g} (at most {MAX_STEPS} steps)")
    steps = round(count)
    if not math.isclose(count, steps, rel_tol=1e-9, abs_tol=1e-9):
        raise InputError(
            step_field,
            step,
            f"a step that divides the {extent_field} {extent:g} into whole steps (e.g. {extent / max(1, steps):g})",
            detail=f"{step:g} does not divide {extent:g} into whole steps ({count:.4g})",
        )
    if steps > MAX_STEPS:
        raise InputError(
            step_field, step, f"at least {extent / MAX_STEPS:g} (at most {MAX_STEPS} steps each side of 0)"
        )
    return [k * extent / steps for k in range(-steps, steps + 1)]


def shock_grid(x_symbol: str, y_symbol: str, moves: Sequence[float], *, others: float = 0.0) -> list[Scenario]:
    """Return one scenario per pair of moves: ``x_symbol`` by the x move, ``y_symbol`` by the y move.

    Order: y outer, x inner (row ``i`` of a heat map is ``moves[i]`` of y). ``others`` moves every other
    symbol (fraction; 0 holds its mark). Raises InputError for equal symbols or a move <= -1.
    """
    if x_symbol == y_symbol:
        raise InputError("grid", f"{x_symbol},{y_symbol}", "two different symbols")
    return [
        Scenario(
            f"{x_symbol} {mx:+.1%} / {y_symbol} {my:+.1%}",
            {x_symbol: mx, y_symbol: my},
            "grid",
            f"2-D shock grid, other symbols {others:+.1%}",
            others,
        )
        for my in moves
        for mx in moves
    ]


# --- evaluation ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StressRow:
    """One scenario under one margin mode. Money in quote currency; ratios as fractions.

    ``mode``: one of ``MODES``. ``equity_after``: margin balance at the shocked marks (wallet + unrealised
    PnL, before any liquidation; the same in every mode); ``loss = equity_before - equity_after``. ``margin_ratio``: the
    highest pool ratio as requirement / margin balance (1 = liquidation, inf = bankrupt pool).
    ``liquidated``: positions whose pool breaches (pool ratio >= 1); ``account_liquidated``: all of them.
    ``equity_left``: what the account holds after the venue liquidates every breaching pool at the shocked
    marks (``margin.liquidate``, no slippage); ``total_loss = equity_before - equity_left``.
    """

    scenario: str
    kind: str
    mode: str
    equity_before: float
    equity_after: float
    loss: float
    margin_ratio: float
    liquidated: tuple[str, ...]
    account_liquidated: bool
    equity_left: float
    total_loss: float


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class StressReport:
    """Every scenario under every mode evaluated (``rows``: scenario-major, modes in ``modes`` order).

    ``modes``: those evaluated, in ``MODES`` order ('as_given' first); 'isolated' is left out, with a note,
    when the wallet cannot fund it.
    """

    venue: str
    settle: str
    symbols: tuple[str, ...]
    modes: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    rows: tuple[StressRow, ...]
    notes: tuple[str, ...] = ()

    def results(self, mode: str) -> list[StressRow]:
        """Return the rows of ``mode``, in scenario order."""
        return [row for row in self.rows if row.mode == mode]

    def frame(self) -> pd.DataFrame:
        """Return one row per scenario x mode (the ``StressRow`` fields plus ``n_liquidated``)."""
        records = [
            {
                "scenario": r.scenario,
                "kind": r.kind,
                "mode": r.mode,
                "equity_before": r.equity_before,
                "equity_after": r.equity_after,
                "loss": r.loss,
                "margin_ratio": r.margin_ratio,
                "liquidated": r.liquidated,
                "n_liquidated": len(r.liquidated),
                "account_liquidated": r.account_liquidated,
                "equity_left": r.equity_left,
                "total_loss": r.total_loss,
            }
            for r in self.rows
        ]
        return pd.DataFrame(records)

    def to_json(self) -> dict[str, Any]:
        """Return the report as strict-JSON data (non-finite numbers as None)."""
        scenarios = []
        for index, scenario in enumerate(self.scenarios):
            entry: dict[str, Any] = {
                "name": scenario.name,
                "kind": scenario.kind,
                "source": scenario.source,
                "moves": {symbol: scenario.move(symbol) for symbol in self.symbols},
            }
            for offset, mode in enumerate(self.modes):
                row = self.rows[index * len(self.modes) + offset]
                entry[mode] = {
                    "equity_before": row.equity_before,
                    "equity_after": row.equity_after,
                    "loss": row.loss,
                    "margin_ratio": row.margin_ratio,
                    "liquidated": list(row.liquidated),
                    "account_liquidated": row.account_liquidated,
                    "equity_left": row.equity_left,
                    "total_loss": row.total_loss,
                }
            scenarios.append(entry)
        result: dict[str, Any] = _jsonable(
            {
                "venue": self.venue,
                "settle": self.settle,
                "modes": list(self.modes),
                "notes": list(self.notes),
                "scenarios": scenarios,
            }
        )
        return result


def _label(position: Position) -> str:
    return position.symbol if position.position_side == "both" else f"{position.symbol}:{position.position_side}"


def _equity(account: Account, marks: Marks, rules: VenueRules) -> float:
    if not account.positions:
        return account.wallet_balance
    return evaluate(account, marks, rules).account.margin_balance


def _row(
    scenario: Scenario, mode: str, account: Account, marks: Marks, *, rules: VenueRules, before: float
) -> StressRow:
    """Return ``scenario`` evaluated on ``account`` at the shocked ``marks``.

    Raises InputError naming the scenario and the book when the shock carries a position where the venue's
    table cannot price it (past its last tier).
    """
    try:
        risk = evaluate(account, marks, rules)
        left = _equity(liquidate(account, marks, rules).account, marks, rules)
    except InputError as error:
        raise error.prefixed(f"scenario '{scenario.name}' ({MODE_LABELS[mode]}): ") from None
    views = [risk_view(rules, ratio) for ratio in risk.pool_ratios]
    liquidated = tuple(_label(p) for p, view in zip(account.positions, views, strict=True) if view >= 1.0)
    after = risk.account.margin_balance
    return StressRow(
        scenario=scenario.name,
        kind=scenario.kind,
        mode=mode,
        equity_before=before,
        equity_after=after,
        loss=before - after,
        margin_ratio=max(views, default=0.0),
        liquidated=liquidated,
        account_liquidated=bool(account.positions) and len(liquidated) == len(account.positions),
        equity_left=left,
        total_loss=before - left,
    )


def run_stress(
    portfolio: Portfolio,
    scenarios: Iterable[Scenario],
    *,
    modes: Sequence[str] = MODES,
    on_scenario: Callable[[], None] | None = None,
) -> StressReport:
    """Return every scenario evaluated for the book as given, then ``all_cross`` and ``all_isolated`` of it.

    ``modes``: which of ``MODES`` to evaluate (always in ``MODES`` order; default all three). ``on_scenario``
    is called after each scenario (for a progress bar). When the wallet cannot fund every position isolated
    (``all_isolated`` raises InputError), isolated is left out and a note says why. A recast equal to the
    book as given (an all-cross book recast cross) is evaluated once and its rows copied. Raises InputError
    (field ``modes``) for a mode that is not one of ``MODES``.
    """
    rules, marks = portfolio.rules, portfolio.marks
    compared = compare_modes(portfolio.account, modes)
    books, notes = compared.books, list(compared.notes)
    same = {mode: compared.same_as(mode) for mode in books}
    before = {mode: _equity(account, marks, rules) for mode, account in books.items()}
    listed = tuple(scenarios)
    rows: list[StressRow] = []
    for scenario in listed:
        shocked = scenario.apply(marks)
        done: dict[str, StressRow] = {}
        for mode, account in books.items():
            if same[mode] in done:
                done[mode] = replace(done[same[mode]], mode=mode)
            else:
                done[mode] = _row(scenario, mode, account, shocked, rules=rules, before=before[mode])
        rows.extend(done.values())
        if on_scenario is not None:
            on_scenario()
    return StressReport(
        venue=rules.name,
        settle=rules.settle,
        symbols=tuple(dict.fromkeys(p.symbol for p in portfolio.account.positions)),
        modes=tuple(books),
        scenarios=listed,
        rows=tuple(rows),
        notes=tuple(notes),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StressGrid:
    """A 2-D shock grid evaluated: arrays indexed ``[y index, x index]`` over ``moves`` (fractions).

    Money in quote currency; ratios are the highest pool ratio, requirement / margin balance (1 =
    liquidation). ``as_given_*``: the book as given (``as_given_liquidated``: some pool of it breaches);
    ``cross_*``: what if all cross (``cross_liquidated``: the cross account breaches); ``isolated_*``: what
    if all isolated (``isolated_liquidated``: some isolated position does). Isolated arrays are NaN / False
    when isolated could not be evaluated (see ``notes``).
    """

    venue: str
    settle: str
    x_symbol: str
    y_symbol: str
    moves: tuple[float, ...]
    equity_before: float
    equity_after: FloatArray
    as_given_ratio: FloatArray
    as_given_liquidated: BoolArray
    as_given_equity_left: FloatArray
    cross_ratio: FloatArray
    isolated_ratio: FloatArray
    cross_liquidated: BoolArray
    isolated_liquidated: BoolArray
    cross_equity_left: FloatArray
    isolated_equity_left: FloatArray
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the grid as strict-JSON data (nested lists ``[y][x]``, non-finite numbers as None)."""
        result: dict[str, Any] = _jsonable(
            {
                "venue": self.venue,
                "settle": self.settle,
                "x_symbol": self.x_symbol,
                "y_symbol": self.y_symbol,
                "moves": list(self.moves),
                "equity_before": self.equity_before,
                "equity_after": self.equity_after.tolist(),
                "modes": list(MODES),
                "as_given_ratio": self.as_given_ratio.tolist(),
                "as_given_liquidated": self.as_given_liquidated.tolist(),
                "as_given_equity_left": self.as_given_equity_left.tolist(),
                "cross_ratio": self.cross_ratio.tolist(),
                "isolated_ratio": self.isolated_ratio.tolist(),
                "cross_liquidated": self.cross_liquidated.tolist(),
                "isolated_liquidated": self.isolated_liquidated.tolist(),
                "cross_equity_left": self.cross_equity_left.tolist(),
                "isolated_equity_left": self.isolated_equity_left.tolist(),
                "notes": list(self.notes),
            }
        )
        return result


def _check_grid_symbol(symbol: str, symbols: Sequence[str], field_name: str) -> None:
    if symbol not in symbols:
        hint = suggest(symbol, symbols)
        detail = f"{symbol!r} is not a symbol of the portfolio's positions" + (
            f" (did you mean {hint}?)" if hint else ""
        )
        raise InputError(field_name, symbol, ", ".join(symbols), detail=detail)


def stress_grid(
    portfolio: Portfolio,
    x_symbol: str,
    y_symbol: str,
    moves: Sequence[float],
    *,
    on_scenario: Callable[[], None] | None = None,
    field: str = "grid",
) -> StressGrid:
    """Return ``shock_grid(x_symbol, y_symbol, moves)`` evaluated by ``run_stress``, as arrays.

    Raises InputError naming ``field`` for a symbol that is not one of the portfolio's positions, or for
    the same symbol twice.
    """
    symbols = list(dict.fromkeys(p.symbol for p in portfolio.account.positions))
    _check_grid_symbol(x_symbol, symbols, field)
    _check_grid_symbol(y_symbol, symbols, field)
    if x_symbol == y_symbol:
        raise InputError(field, f"{x_symbol},{y_symbol}", "two different symbols of the portfolio")
    report = run_stress(portfolio, shock_grid(x_symbol, y_symbol, moves), on_scenario=on_scenario)
    shape = (len(moves), len(moves))

    def grid(mode: str, value: Callable[[StressRow], float]) -> FloatArray:
        if mode not in report.modes:
            return np.full(shape, np.nan)
        return np.array([value(row) for row in report.results(mode)], dtype=np.float64).reshape(shape)

    def any_liquidated(mode: str) -> BoolArray:
        flags = [bool(row.liquidated) for row in report.results(mode)] or [False] * (shape[0] * shape[1])
        return np.array(flags, dtype=np.bool_).reshape(shape)

    as_given, cross = report.results("as_given"), report.results("cross")
    return StressGrid(
        venue=report.venue,
        settle=report.settle,
        x_symbol=x_symbol,
        y_symbol=y_symbol,
        moves=tuple(moves),
        equity_before=as_given[0].equity_before if as_given else portfolio.account.wallet_balance,
        equity_after=grid("as_given", lambda row: row.equity_after),
        as_given_ratio=grid("as_given", lambda row: row.margin_ratio),
        as_given_liquidated=any_liquidated("as_given"),
        as_given_equity_left=grid("as_given", lambda row: row.equity_left),
        cross_ratio=grid("cross", lambda row: row.margin_ratio),
        isolated_ratio=grid("isolated", lambda row: row.margin_ratio),
        cross_liquidated=np.array([row.account_liquidated for row in cross], dtype=np.bool_).reshape(shape),
        isolated_liquidated=any_liquidated("isolated"),
        cross_equity_left=grid("cross", lambda row: row.equity_left),
        isolated_equity_left=grid("isolated", lambda row: row.equity_left),
        notes=report.notes,
    )
