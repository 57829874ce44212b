"""Read a live perpetual-futures account through ccxt, read-only: ``CcxtReader('binance').snapshot()``.

One snapshot is three reads: the balance (the wallet and the venue's account-level figures), the open
positions, and the mark prices (``fetch_mark_prices`` where ccxt has it: Binance, OKX; else
``fetch_tickers``: Bybit, Hyperliquid). Hyperliquid's ``clearinghouseState`` answers both the balance and
the positions, so it is read once and its ``assetPositions`` are parsed by ccxt. Nothing is ever written
to the venue.

What each venue's figures mean, and which fields are taken (ccxt's unified field where it passes the
venue's own number through, the raw field from ccxt's ``info`` where ccxt substitutes an estimate of its
own, as it does for Binance's maintenance margin and for every venue's ``marginRatio``):

=============  ========================================  =============================================
venue          wallet (quote currency)                   margin ratio (risk view: MM / margin balance)
=============  ========================================  =============================================
Binance        ``totalWalletBalance``                    ``totalMaintMargin / totalMarginBalance``;
                                                         isolated: ``maintMargin / isolatedMargin``
Bybit          UTA: ``totalWalletBalance``; classic:     ``accountMMRate``; classic isolated:
               the USDT coin's ``walletBalance``         ``positionMM / (positionBalance + uPnL)``
OKX            the USDT detail's ``cashBal``             ``1 / mgnRatio`` (OKX's ratio is a health ratio)
Hyperliquid    ``marginSummary.accountValue`` less the   ``crossMaintenanceMarginUsed /
               positions' ``unrealizedPnl``              crossMarginSummary.accountValue`` (cross only)
=============  ========================================  =============================================

Marks are every mark the venue's mark endpoint returned, overlaid by each open position's own mark (the
one the venue computed that position's reported figures at), so that the engine and the venue are set
side by side at the same price. Sizes are ``contracts x contractSize`` in base units; symbols are the
venue's ids (``market['id']``; Hyperliquid's coin name).

Failures: ``ccxt.NetworkError`` and its kin (timeouts, rate limits, venue unavailable) are retried with
exponential backoff; if the read still fails, the last good snapshot is returned with its age and the
errors, or ``VenueUnavailableError`` is raised when there is none. A rejected key raises ``InputError``
naming the environment variables. Log lines go to the ``crossmargin.live`` logger with every credential
value replaced by ``'***'``; ccxt's own request log is routed through the same scrubbing.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import ccxt

from crossmargin.errors import CrossmarginError, DataError, InputError
from crossmargin.live.base import ReportedFigures, VenueSnapshot, VenueUnavailableError, position_key
from crossmargin.live.credentials import REQUIRED, Credentials, env_var, known_venue, load_credentials
from crossmargin.model import Account, MarginMode, Marks, Position, PositionSide, Side
from crossmargin.venues.registry import VENUE_INFO

__all__ = [
    "CCXT_EXCHANGES",
    "CcxtReader",
    "logger",
]

logger = logging.getLogger("crossmargin.live")

#: Venue -> ccxt exchange class (USDT/USDC-margined perpetual swaps), from the venue registry.
CCXT_EXCHANGES: dict[str, str] = {name: info.ccxt_id for name, info in VENUE_INFO.items()}

#: The ccxt errors worth another try: the network or the venue is momentarily unavailable or throttling.
_TRANSIENT: tuple[type[Exception], ...] = (
    ccxt.NetworkError,
    ccxt.RequestTimeout,
    ccxt.RateLimitExceeded,
    ccxt.ExchangeNotAvailable,
)
#: At most this many error texts are kept while the venue stays unreadable.
_MAX_ERRORS = 20
#: Longest error text kept (characters): ccxt puts whole response bodies into some messages.
_MAX_ERROR_CHARS = 300
_MASK = "***"
#: A URL's query string: signed requests carry a signature and timestamps that only clutter a message.
_URL_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


class _ReadFailedError(Exception):
    """The venue could not be read this time (after retries); ``str`` is the scrubbed error text."""


class _Scrubber:
    """Replaces every credential value in a text by '***' (case-insensitive: addresses vary in case)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values), re.IGNORECASE) if values else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(_MASK, text) if self._pattern is not None else text


class _ScrubbedLogger:
    """Stands in for ccxt's ``exchange.logger``: formats each record, scrubs it, passes it on.

    ccxt logs every request at DEBUG with its headers (API key, OKX passphrase) and body (Hyperliquid
    address) whatever ``verbose`` says; this keeps those values out of every handler.
    """

    def __init__(self, scrub: _Scrubber) -> None:
        self._scrub = scrub
        self._logger = logging.getLogger("crossmargin.live.ccxt")

    def _emit(self, level: int, msg: object, args: tuple[object, ...]) -> None:
        if self._logger.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            self._logger.log(level, "%s", self._scrub(text))

    def debug(self, msg: object, *args: object, **_: object) -> None:
        self._emit(logging.DEBUG, msg, args)

    def info(self, msg: object, *args: object, **_: object) -> None:
        self._emit(logging.INFO, msg, args)

    def warning(self, msg: object, *args: object, **_: object) -> None:
        self._emit(logging.WARNING, msg, args)

    def error(self, msg: object, *args: object, **_: object) -> None:
        self._emit(logging.ERROR, msg, args)


class CcxtReader:
    """A read-only ``AccountReader`` of one venue's live account through ccxt.

    ``credentials`` default to ``load_credentials(venue)`` (environment, then keyring). ``exchange`` is a
    ccxt exchange to use instead of building one (tests point it at a local server); credentials given
    are set on it. ``timeout_s`` is each request's timeout (seconds); a failed read is tried again
    ``retries`` times after ``backoff_s x 2**n`` seconds (n = 0, 1, ...). ``clock`` returns seconds since
    the Unix epoch and ``sleep`` waits; both are injectable for tests.
    """

    def __init__(
        self,
        venue: str,
        *,
        credentials: Credentials | None = None,
        exchange: Any = None,
        timeout_s: float = 10,
        retries: int = 3,
        backoff_s: float = 0.5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._venue = known_venue(venue)
        if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s) and timeout_s > 0):
            raise InputError("timeout_s", timeout_s, "a number of seconds > 0")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise InputError("retries", retries, "an integer >= 0")
        if not (isinstance(backoff_s, int | float) and math.isfinite(backoff_s) and backoff_s >= 0):
            raise InputError("backoff_s", backoff_s, "a number of seconds >= 0")
        creds = credentials if credentials is not None else load_credentials(self._venue)
        self._scrub = _Scrubber(creds.secrets() if creds is not None else ())
        self._fields = VENUE_INFO[self._venue].live
        self._settle = VENUE_INFO[self._venue].settle
        self._exchange = (
            exchange if exchange is not None else getattr(ccxt, CCXT_EXCHANGES[self._venue])({"enableRateLimit": True})
        )
        if creds is not None:
            for attribute, value in _ccxt_credentials(self._venue, creds).items():
                setattr(self._exchange, attribute, value)
        self._exchange.timeout = round(timeout_s * 1000)
        self._exchange.verbose = False  # verbose prints requests, headers included, to stdout
        self._exchange.logger = _ScrubbedLogger(self._scrub)
        self._retries = retries
        self._backoff_s = float(backoff_s)
        self._clock = clock
        self._sleep = sleep
        self._last_good: VenueSnapshot | None = None
        self._last_good_at = 0.0
        self._errors: list[str] = []

    def __repr__(self) -> str:
        return f"CcxtReader(venue={self._venue!r}, exchange={CCXT_EXCHANGES[self._venue]!r})"

    __str__ = __repr__

    @property
    def venue(self) -> str:
        """Return the venue name whose rules apply ('binance', 'bybit', 'okx', 'hyperliquid')."""
        return self._venue

    @property
    def exchange(self) -> Any:
        """Return the ccxt exchange the reader talks to (for diagnostics and tests)."""
        return self._exchange

    def close(self) -> None:
        """Release the HTTP session."""
        self._exchange.close()

    def snapshot(self) -> VenueSnapshot:
        """Return the account now, or the last good snapshot marked stale when the venue cannot be read.

        Raises VenueUnavailableError (one line) when the venue fails before any good read, and InputError
        naming the environment variables when the venue rejects the credentials.
        """
        started = self._clock()
        try:
            fresh = self._read(started)
        except _ReadFailedError as failure:
            return self._fallback(str(failure))
        self._last_good, self._last_good_at, self._errors = fresh, started, []
        return fresh

    # -- reading ---------------------------------------------------------------------------------------

    def _read(self, started: float) -> VenueSnapshot:
        exchange = self._exchange
        if self._venue == "hyperliquid":
            if not exchange.walletAddress:
                variable = env_var("hyperliquid", "wallet")
                raise InputError(variable, None, "the account's 0x address", detail=f"{variable} is not set")
            # One clearinghouseState answers both; the unified-account query would cost another request.
            balance = self._call("fetch_balance", {"type": "swap", "enableUnifiedMargin": False})
            raw_positions = self._parse(lambda: exchange.parse_positions(_info(balance).get("assetPositions", [])))
        else:
            balance = self._call("fetch_balance")
            raw_positions = self._call("fetch_positions", None, dict(self._fields.position_params))
        if exchange.has.get("fetchMarkPrices"):
            tickers = self._call("fetch_mark_prices")
        else:
            tickers = self._call("fetch_tickers", None, dict(self._fields.ticker_params))
        try:
            return self._assemble(started, balance, raw_positions, tickers)
        except (CrossmarginError, KeyError, TypeError, ValueError) as exc:
            raise _ReadFailedError(self._describe(exc, prefix="unexpected response: ")) from None

    def _parse(self, parse: Callable[[], Any]) -> Any:
        try:
            return parse()
        except (ccxt.BaseError, KeyError, TypeError, ValueError) as exc:
            raise _ReadFailedError(self._describe(exc, prefix="unexpected response: ")) from None

    def _call(self, method: str, *args: Any) -> Any:
        """Return ``exchange.<method>(*args)``, retrying transient errors with exponential backoff."""
        attempt = 0
        while True:
            try:
                return getattr(self._exchange, method)(*args)
            except ccxt.AuthenticationError as exc:
                raise self._rejected(exc) from None
            except _TRANSIENT as exc:
                text = self._describe(exc)
                if attempt == self._retries:
                    raise _ReadFailedError(text) from None
                delay = self._backoff_s * 2**attempt
                attempt += 1
                logger.warning(
                    "%s: %s failed (%s); retry %d of %d in %.2f s",
                    self._venue,
                    method,
                    text,
                    attempt,
                    self._retries,
                    delay,
                )
                self._sleep(delay)
            except ccxt.BaseError as exc:
                raise _ReadFailedError(self._describe(exc)) from None

    def _fallback(self, error: str) -> VenueSnapshot:
        self._errors = [*self._errors, error][-_MAX_ERRORS:]
        if self._last_good is None:
            raise VenueUnavailableError(f"{self._venue} cannot be read and no earlier snapshot exists: {error}")
        age = max(0.0, self._clock() - self._last_good_at)
        logger.warning("%s: serving the snapshot from %.1f s ago: %s", self._venue, age, error)
        return replace(self._last_good, stale_seconds=age, errors=tuple(self._errors))

    def _describe(self, exc: BaseException, *, prefix: str = "") -> str:
        """Return 'Type: message' on one line, without URL queries, credentials scrubbed, length capped."""
        text = " ".join(f"{type(exc).__name__}: {prefix}{exc}".split())
        text = self._scrub(_URL_QUERY.sub(r"\1", text))
        return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."

    def _rejected(self, exc: BaseException) -> InputError:
        names = REQUIRED[self._venue]
        variables = ", ".join(env_var(self._venue, name) for name in names)
        return InputError(
            env_var(self._venue, names[0]),
            _MASK,
            f"a valid read-only key set in {variables} (or the keyring)",
            detail=f"{self._venue} rejected the credentials ({self._describe(exc)})",
        )

    # -- mapping ---------------------------------------------------------------------------------------

    def _assemble(
        self, started: float, balance: Any, raw_positions: Sequence[Any], tickers: Mapping[str, Any]
    ) -> VenueSnapshot:
        info = _info(balance)
        account_reported = self._account_figures(info)
        positions: list[Position] = []
        reported: dict[str, ReportedFigures] = {}
        own_marks: dict[str, float] = {}
        for raw in raw_positions:
            mapped = self._position(raw, account_reported)
            if mapped is None:
                continue
            position, figures, mark = mapped
            positions.append(position)
            reported[position_key(position.symbol, position.position_side)] = figures
            if mark is not None:
                own_marks[position.symbol] = mark
        marks = {**self._ticker_marks(tickers), **own_marks}
        for position in positions:
            if position.symbol not in marks:
                raise DataError(f"{self._venue}: no mark price for {position.symbol}")
        wallet = self._wallet(info, raw_positions)
        isolated = math.fsum(p.isolated_margin or 0.0 for p in positions)
        account = Account(
            venue=self._venue,
            wallet_balance=wallet,
            positions=tuple(positions),
            # The venue's state is a fact, not input: a liquidation in progress may leave the cross
            # wallet below the isolated margins (or below zero).
            cross_deficit_allowed=wallet < 0 or isolated > wallet,
        )
        return VenueSnapshot(
            venue=self._venue,
            time_ms=round(started * 1000),
            account=account,
            marks=Marks(marks),
            reported=reported,
            account_reported=account_reported,
        )

    def _position(
        self, raw: Mapping[str, Any], account: ReportedFigures
    ) -> tuple[Position, ReportedFigures, float | None] | None:
        """Return (position, its reported figures, its own mark), or None for a zero-size row."""
        contracts = _num(raw.get("contracts"))
        if contracts is None or contracts == 0:
            return None
        info = _position_info(raw)
        symbol = self._venue_symbol(raw.get("symbol"), info)
        contract_size = _num(raw.get("contractSize"))
        if contract_size is None:
            if self._venue == "okx":  # OKX contracts are not base units: ctVal must be known
                raise DataError(f"okx position {symbol}: contract size unknown (market not loaded)")
            contract_size = 1.0
        side = Side.parse(f"{symbol}.side", raw.get("side"))
        mode = self._mode(raw, info)
        leverage = _num(raw.get("leverage"))
        position_side: PositionSide = side.label if raw.get("hedged") else "both"
        try:
            position = Position(
                symbol=symbol,
                side=side,
                size=abs(contracts) * contract_size,
                entry_price=_require(raw.get("entryPrice"), f"{symbol}.entryPrice"),
                leverage=leverage if leverage is not None else _implied_leverage(raw, symbol),
                mode=mode,
                isolated_margin=_isolated_margin(raw, symbol) if mode is MarginMode.ISOLATED else None,
                position_side=position_side,
            )
        except InputError as exc:
            raise DataError(f"{self._venue} position {symbol}: {exc}") from None
        figures = ReportedFigures(
            liquidation_price=_positive(raw.get("liquidationPrice")),
            margin_ratio=self._position_ratio(raw, info, mode, account),
            maintenance_margin=_num(info.get(self._fields.maint_margin)) if self._fields.maint_margin else None,
            unrealized_pnl=_num(raw.get("unrealizedPnl")),
            leverage=leverage,
            stop_loss=_positive(raw.get("stopLossPrice")),
        )
        return position, figures, _positive(raw.get("markPrice"))

    def _mode(self, raw: Mapping[str, Any], info: Mapping[str, Any]) -> MarginMode:
        mode = raw.get("marginMode")
        if mode is None and self._venue == "bybit":
            # ccxt leaves Bybit's mode unset: tradeMode is deprecated under UTA (always 0, cross);
            # a classic account still says 1 for isolated.
            mode = "isolated" if str(info.get("tradeMode")) == "1" else "cross"
        if mode is None:
            raise DataError(f"{self._venue}: position {info} has no margin mode")
        return MarginMode.parse("marginMode", mode)

    def _position_ratio(
        self, raw: Mapping[str, Any], info: Mapping[str, Any], mode: MarginMode, account: ReportedFigures
    ) -> float | None:
        """Return the margin ratio of the position's pool in the risk view (1 = liquidation), or None."""
        if self._venue == "okx":
            return _inverse(_num(info.get("mgnRatio")))
        if mode is MarginMode.CROSS:
            return account.margin_ratio
        if self._venue == "binance":
            return _ratio(_num(info.get("maintMargin")), _num(info.get("isolatedMargin")))
        if self._venue == "bybit":
            balance, pnl = _num(info.get("positionBalance")), _num(info.get("unrealisedPnl"))
            equity = balance + pnl if balance is not None and pnl is not None else None
            return _ratio(_num(info.get("positionMM")), equity)
        return None  # Hyperliquid reports no maintenance margin per isolated position

    def _account_figures(self, info: Mapping[str, Any]) -> ReportedFigures:
        """Return the venue's account-level figures: margin ratio (risk view), maintenance margin, uPnL."""
        if self._venue == "binance":
            mm = _num(info.get("totalMaintMargin"))
            return ReportedFigures(
                margin_ratio=_ratio(mm, _num(info.get("totalMarginBalance"))),
                maintenance_margin=mm,
                unrealized_pnl=_num(info.get("totalUnrealizedProfit")),
            )
        if self._venue == "bybit":
            account = _bybit_account(info)
            return ReportedFigures(
                margin_ratio=_num(account.get("accountMMRate")),
                maintenance_margin=_num(account.get("totalMaintenanceMargin")),
                unrealized_pnl=_num(account.get("totalPerpUPL")),
            )
        if self._venue == "okx":
            account = _okx_account(info)
            return ReportedFigures(
                margin_ratio=_inverse(_num(account.get("mgnRatio"))),
                maintenance_margin=_num(account.get("mmr")),
                unrealized_pnl=_num(account.get("upl")),
            )
        mm = _num(info.get("crossMaintenanceMarginUsed"))
        return ReportedFigures(
            margin_ratio=_ratio(mm, _num(_mapping(info.get("crossMarginSummary")).get("accountValue"))),
            maintenance_margin=mm,
        )

    def _wallet(self, info: Mapping[str, Any], raw_positions: Sequence[Any]) -> float:
        """Return the account's wallet (quote currency), isolated margins included, uPnL excluded.

        Not ccxt's unified ``total``: it is the equity (uPnL included) on OKX and Hyperliquid and the
        margin balance on Binance. Taken instead:

        - Binance: ``totalWalletBalance`` (the USDⓈ-M wallet: USDT in single-asset mode, every margin asset
          in USD in multi-assets mode; isolated wallets included). Binance's own liquidation prices
          follow from it.
        - Bybit: the unified account's ``totalWalletBalance`` (USD value of all collateral, which margins
          every perpetual), or the USDT coin's ``walletBalance`` in a classic account.
        - OKX: the USDT detail's ``cashBal`` (cash balance, isolated margin included, uPnL excluded);
          multi-currency collateral is not added.
        - Hyperliquid: ``marginSummary.accountValue`` (cross and isolated equity) less every position's
          ``unrealizedPnl``.
        """
        settle = self._settle
        if self._venue == "binance":
            return _require(info.get("totalWalletBalance"), "totalWalletBalance")
        if self._venue == "bybit":
            account = _bybit_account(info)
            if account.get("accountType") == "UNIFIED":
                return _require(account.get("totalWalletBalance"), "totalWalletBalance")
            coin = _entry(account.get("coin"), "coin", settle)
            return _require(coin.get("walletBalance"), f"coin[{settle}].walletBalance")
        if self._venue == "okx":
            detail = _entry(_okx_account(info).get("details"), "ccy", settle)
            return _require(detail.get("cashBal"), f"details[{settle}].cashBal")
        equity = _require(_mapping(info.get("marginSummary")).get("accountValue"), "marginSummary.accountValue")
        pnl = math.fsum(_num(p.get("unrealizedPnl")) or 0.0 for p in raw_positions)
        return equity - pnl

    def _ticker_marks(self, tickers: Mapping[str, Any]) -> dict[str, float]:
        marks: dict[str, float] = {}
        for symbol, ticker in tickers.items():
            info = _mapping(ticker.get("info"))
            price = _positive(ticker.get("markPrice")) or _positive(info.get(self._fields.raw_mark))
            if price is not None:
                marks[self._venue_symbol(symbol, info, ticker=True)] = price
        return marks

    def _venue_symbol(self, symbol: Any, info: Mapping[str, Any], *, ticker: bool = False) -> str:
        """Return the venue's id of ccxt ``symbol``: the market's id (Hyperliquid: coin), else the raw id."""
        markets = self._exchange.markets or {}
        market = markets.get(symbol) if isinstance(symbol, str) else None
        if market is not None:
            if self._venue == "hyperliquid":
                name = market.get("baseName") or _mapping(market.get("info")).get("name") or market.get("base")
                return str(name)
            return str(market["id"])
        key = "name" if ticker and self._venue == "hyperliquid" else self._fields.raw_id
        raw = info.get(key)
        if not raw:
            raise DataError(f"{self._venue}: cannot tell the venue symbol of {symbol!r}")
        return str(raw)


def _ccxt_credentials(venue: str, creds: Credentials) -> dict[str, str]:
    """Return the ccxt attributes to set: the Hyperliquid address only (reading needs no key)."""
    if venue == "hyperliquid":
        return {"walletAddress": creds.wallet} if creds.wallet else {}
    pairs = {"apiKey": creds.api_key, "secret": creds.api_secret, "password": creds.password}
    return {name: value for name, value in pairs.items() if value}


def _info(balance: Any) -> Mapping[str, Any]:
    return _mapping(balance.get("info")) if isinstance(balance, Mapping) else {}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _position_info(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the venue's own record of a position (Hyperliquid nests it under 'position')."""
    info = _mapping(raw.get("info"))
    nested = info.get("position")
    return nested if isinstance(nested, Mapping) else info


def _bybit_account(info: Mapping[str, Any]) -> Mapping[str, Any]:
    accounts = _mapping(info.get("result")).get("list") or [{}]
    return _mapping(accounts[0])


def _okx_account(info: Mapping[str, Any]) -> Mapping[str, Any]:
    accounts = info.get("data") or [{}]
    return _mapping(accounts[0])


def _entry(entries: Any, key: str, value: str) -> Mapping[str, Any]:
    for entry in entries or ():
        if isinstance(entry, Mapping) and entry.get(key) == value:
            return entry
    raise DataError(f"no {key} = {value!r} entry in the balance")


def _num(value: Any) -> float | None:
    """Return ``value`` as a finite float; None for None, '' or anything not a finite number."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: Any) -> float | None:
    """Return ``value`` as a float if it is > 0; venues write 0 or '' for 'none'."""
    number = _num(value)
    return number if number is not None and number > 0 else None


def _require(value: Any, name: str) -> float:
    number = _num(value)
    if number is None:
        raise DataError(f"{name} missing or not a number: {value!r}")
    return number


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _inverse(health: float | None) -> float | None:
    """Return 1 / a health ratio (equity / requirement) as a risk ratio, or None."""
    return 1.0 / health if health is not None and health > 0 else None


def _implied_leverage(raw: Mapping[str, Any], symbol: str) -> float:
    """Return notional / initial margin, for venues that no longer send the leverage (Binance v3).

    Binance leverage is a whole number and its initial margin is rounded to 8 decimals, so a ratio within
    1e-6 of an integer is that integer.
    """
    notional, margin = _num(raw.get("notional")), _num(raw.get("initialMargin"))
    if notional is None or margin is None or margin <= 0:
        raise DataError(f"position {symbol}: no leverage, and none implied by notional / initial margin")
    implied = abs(notional) / margin
    nearest = round(implied)
    return float(nearest) if nearest >= 1 and abs(implied - nearest) <= 1e-6 * implied else implied


def _isolated_margin(raw: Mapping[str, Any], symbol: str) -> float:
    """Return the isolated wallet excluding uPnL: ccxt's ``positionMargin``, else collateral less uPnL."""
    margin = _positive(raw.get("positionMargin"))
    if margin is None:
        collateral, pnl = _num(raw.get("collateral")), _num(raw.get("unrealizedPnl"))
        if collateral is not None:
            margin = _positive(collateral - (pnl or 0.0))
    if margin is None:
        raise DataError(f"isolated position {symbol}: no isolated margin reported")
    return margin
