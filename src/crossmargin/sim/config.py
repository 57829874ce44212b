"""The settings of a backtest run: ``RunConfig``, the ``AutoLeverage`` policy, and what scans quiet bars.

Money in the quote currency; slippage, volatility targets and probabilities as fractions; horizons,
look-backs and warm-ups in bars.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Literal, Protocol

from crossmargin.errors import InputError
from crossmargin.kernels.layout import MarketData, ScanResult, Trigger
from crossmargin.model import Account, Side
from crossmargin.numeric import require_positive
from crossmargin.venues.base import VenueRules

__all__ = ["MS_PER_YEAR", "AutoLeverage", "Mode", "RunConfig", "Scanner", "StopPolicy", "rules_for_run"]

Mode = Literal["cross", "isolated"]
StopPolicy = Literal["off", "warn", "refuse"]


class Scanner(Protocol):
    """What scans quiet bars: ``sim.scan.scan_reference`` or its compiled twin ``kernels.scan``."""

    def __call__(
        self,
        account: Account,
        rules: VenueRules,
        market: MarketData,
        triggers: Sequence[Trigger],
        *,
        start: int,
        stop: int,
    ) -> ScanResult:
        """Return what bars ``[start, stop)`` hold (``sim.scan.ScanResult``)."""
        ...


#: Milliseconds in a year of 365.25 days: annualises a volatility measured per bar.
MS_PER_YEAR = 365.25 * 24 * 3600 * 1000


@dataclass(frozen=True, kw_only=True)
class AutoLeverage:
    """The auto-leverage policy: each position's effective leverage follows the volatility forecast.

    At every strategy call and every ``every`` bars, for each position: sigma = EWMA (``ewma_lambda``) of
    its symbol's log returns per bar up to the close; cap = ``cap(side, sigma, horizon_bars, mm_rate,
    max_liq_prob)``, the risk lab's ``risk.leverage.max_leverage`` (passed in: sim does not import risk),
    that sigma over ``horizon_bars``, the bracket's maintenance rate and ``max_liq_prob`` (a fraction),
    capped at the venue's bracket maximum. Effective leverage is notional / the margin behind the position
    (isolated: its isolated margin + uPnL; cross: the cross equity shared in proportion to notional). Above
    ``cap x (1 + band)``: an isolated position first takes margin from the free wallet, then (like a cross
    one) is cut with a reduce-only market order at the next open.
    """

    cap: Callable[[Side, float, float, float, float], float]
    max_liq_prob: float = 0.01
    horizon_bars: int = 24
    ewma_lambda: float = 0.94
    band: float = 0.1
    every: int = 1
    warmup: int = 48

    def __post_init__(self) -> None:
        if not (0 < self.max_liq_prob < 1):
            raise InputError("max_liq_prob", self.max_liq_prob, "a fraction in (0, 1)")
        if self.horizon_bars < 1 or self.every < 1 or self.warmup < 2:
            raise InputError("horizon_bars", self.horizon_bars, "horizon and every >= 1 bar, warmup >= 2 bars")
        if not (0 < self.ewma_lambda < 1) or self.band < 0:
            raise InputError("ewma_lambda", self.ewma_lambda, "lambda in (0, 1) and band >= 0")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Settings of a run. Money in quote; ``slippage``, the fees and ``vol_target`` are fractions.

    ``taker_fee`` / ``maker_fee``: the trading fee rates (fraction of fill notional) instead of the venue's
    regular-user rates (None: the venue's); ``funding``: settle funding (False: no funding is paid or
    received, whatever the market data holds). ``stop_policy``: what to do with a stop-loss beyond the
    position's liquidation price ('refuse' it, 'warn' and keep it, or 'off'); ``leverage_cap``: the highest
    gross notional / equity an order may reach (None: no cap); ``vol_target``: annualised volatility an
    opening order is scaled down to, by ``min(1, vol_target / realised volatility over vol_lookback bars)``
    (None: off).
    """

    wallet: float = 10_000.0
    leverage: float = 5.0
    slippage: float = 0.0002
    stop_policy: StopPolicy = "refuse"
    leverage_cap: float | None = None
    vol_target: float | None = None
    vol_lookback: int = 168
    auto_leverage: AutoLeverage | None = None
    taker_fee: float | None = None
    maker_fee: float | None = None
    funding: bool = True

    def __post_init__(self) -> None:
        require_positive("wallet", self.wallet)
        require_positive("leverage", self.leverage)
        if not (0 <= self.slippage < 0.1):
            raise InputError("slippage", self.slippage, "a fraction in [0, 0.1)")
        for name, rate in (("taker_fee", self.taker_fee), ("maker_fee", self.maker_fee)):
            if rate is not None and not (0 <= rate < 0.1):
                raise InputError(name, rate, "a fraction in [0, 0.1) (0.0005 = 0.05 %), or None for the venue's")
        if self.stop_policy not in ("off", "warn", "refuse"):
            raise InputError("stop_policy", self.stop_policy, "off | warn | refuse")
        if self.leverage_cap is not None:
            require_positive("leverage_cap", self.leverage_cap)
        if self.vol_target is not None:
            require_positive("vol_target", self.vol_target)
        if self.vol_lookback < 2:
            raise InputError("vol_lookback", self.vol_lookback, ">= 2 bars")


def rules_for_run(rules: VenueRules, config: RunConfig) -> VenueRules:
    """Return ``rules`` with the trading fee rates of ``config`` where it sets them (else ``rules`` itself).

    The rates replace the venue's ``taker_rate`` / ``maker_rate`` (fractions of fill notional); the venue's
    liquidation fee is a rule of its own and stays. InputError for a rules object without those fields.
    """
    if config.taker_fee is None and config.maker_fee is None:
        return rules
    names: set[str] = {f.name for f in fields(rules)} if is_dataclass(rules) else set()
    if not {"taker_rate", "maker_rate"} <= names:
        raise InputError("taker_fee", config.taker_fee, f"None: the rules of {rules.name} have no fee rates to set")
    changes = {"taker_rate": config.taker_fee, "maker_rate": config.maker_fee}
    return replace(rules, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[type-var]
