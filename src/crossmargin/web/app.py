"""The local web dashboard: a JSON API (OpenAPI at ``/openapi.json``) and static pages drawing it with plotly.js.

Thin by design (DESIGN.md, Faces): each route validates its request with pydantic, calls the crossmargin
function a test also calls, and returns its figures as strict JSON. Money and prices are in the quote
currency, sizes in base units, moves, rates and ratios as fractions. Bad input answers 422 (a field out of
range, naming it) or 400 (any other crossmargin error), never 500. plotly.js is the copy bundled with the
installed plotly package, served from ``/vendor/plotly.min.js``: the pages work offline.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import tomllib
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from crossmargin.console import jsonable, risk_json
from crossmargin.errors import CrossmarginError, InputError
from crossmargin.examples import CASE_STUDY, PAPER_CRASH, example_path
from crossmargin.live.monitor import Monitor
from crossmargin.live.paper import paper_from_episode
from crossmargin.margin.account import evaluate
from crossmargin.portfolio import MODES, Portfolio, compare_modes, load_portfolio, parse_portfolio
from crossmargin.risk.montecarlo import equity_quantiles, liquidation_probability
from crossmargin.risk.stress import grid_moves, stress_grid
from crossmargin.sim.backtest import kernel_scan, resolve_strategy, run_backtest, sample_market
from crossmargin.store import Store
from crossmargin.venues import get_rules

__all__ = [
    "EXAMPLES",
    "FAN_PATHS",
    "FAN_QUANTILES",
    "LARGEST",
    "MAX_PATH_HOURS",
    "MAX_WEB_PATHS",
    "PAPER_EPISODE",
    "STATIC",
    "BacktestIn",
    "Credentials",
    "Money",
    "MonteCarloIn",
    "PortfolioIn",
    "PositionIn",
    "Positive",
    "StressGridIn",
    "Symbol",
    "backtest_series",
    "check",
    "create_app",
    "equity_fan",
    "monitor_events",
]

#: The example portfolios shipped in the package (the pages' defaults and the paper replay's book).
EXAMPLES = example_path(CASE_STUDY).parent
#: The crash the paper monitor replays (5m bars shipped in ``crossmargin/live/data``).
PAPER_EPISODE = "2025-10-10"
#: Most Monte Carlo paths one request may ask for (the API's cap, far below the library's).
MAX_WEB_PATHS = 20_000
#: Most path-hours (paths x horizon hours) one request may simulate: bounds its time and memory.
MAX_PATH_HOURS = 500_000
#: Paths drawn for the equity fan (quantiles per step); the probabilities use all requested paths.
FAN_PATHS = 2_000
#: Equity quantiles of the fan (fractions).
FAN_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
#: The largest finite number accepted in a money, size or price field (keeps float64 arithmetic finite).
LARGEST = 1e12

STATIC = Path(__file__).with_name("static")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]

Money = Annotated[float, Field(ge=0, le=LARGEST, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, le=LARGEST, allow_inf_nan=False)]
Symbol = Annotated[str, Field(min_length=1, max_length=40)]


class PositionIn(BaseModel):
    """One ``[[positions]]`` table of the portfolio TOML schema (sizes in base units, prices in quote)."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    side: Literal["long", "short"]
    size: Positive
    entry_price: Positive
    leverage: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
    margin_mode: Literal["cross", "isolated"] = "cross"
    isolated_margin: Positive | None = None
    position_side: Literal["both", "long", "short"] = "both"


class PortfolioIn(BaseModel):
    """A portfolio in the TOML schema's shape (``crossmargin.portfolio``); money in the quote currency."""

    model_config = ConfigDict(extra="forbid")

    venue: Annotated[str, Field(min_length=1, max_length=40)] = "binance"
    wallet_balance: Money
    positions: Annotated[list[PositionIn], Field(max_length=50)] = []
    marks: dict[Symbol, Positive] = {}
    name: Annotated[str, Field(max_length=200)] | None = None

    def load(self) -> Portfolio:
        """Return the parsed portfolio (InputError names the field, as for a TOML file)."""
        return parse_portfolio(self.model_dump(exclude_none=True))


class StressGridIn(BaseModel):
    """A 2-D shock grid: ``x`` and ``y`` moved by ``-range .. +range`` in ``step`` increments (fractions)."""

    model_config = ConfigDict(extra="forbid")

    portfolio: PortfolioIn
    x: Symbol
    y: Symbol
    range: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.5
    step: Annotated[float, Field(ge=0.001, lt=1, allow_inf_nan=False)] = 0.05


class MonteCarloIn(BaseModel):
    """A Monte Carlo request: horizon in hours, number of paths, random seed, fitted model name."""

    model_config = ConfigDict(extra="forbid")

    portfolio: PortfolioIn
    horizon_hours: Annotated[int, Field(ge=1, le=720)] = 24
    paths: Annotated[int, Field(ge=100, le=MAX_WEB_PATHS)] = 5_000
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    model: Literal["fhs", "t"] = "fhs"


class BacktestIn(BaseModel):
    """A backtest of a built-in strategy on the shipped sample bars, under one or both margin modes."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["case-study", "hedge-pair", "basis"] = "case-study"
    mode: Literal["cross", "isolated", "both"] = "both"


def _finite(values: Any) -> list[float | None]:
    """Return ``values`` as a list with NaN and infinities as None (strict JSON)."""
    return [float(v) if math.isfinite(float(v)) else None for v in np.asarray(values, dtype=np.float64).ravel()]


def _error(status: int, error: CrossmarginError) -> JSONResponse:
    field = getattr(error, "field", None)
    return JSONResponse(status_code=status, content={"detail": str(error), "field": field})


def _example_text(name: str) -> str:
    path = EXAMPLES / name
    if not path.is_file():
        raise InputError("example", name, "an example shipped in the package (crossmargin/examples/)")
    return path.read_text(encoding="utf-8")


def check(portfolio: Portfolio) -> dict[str, Any]:
    """Return the portfolio as given, then what if all cross and all isolated (``risk_json`` objects).

    ``as_given``: each position in its own mode; ``cross`` / ``isolated``: ``all_cross`` / ``all_isolated``
    of it (a position already isolated keeps its margin). ``isolated`` is None, with a note, when the wallet
    cannot fund every position isolated.
    """
    compared = compare_modes(portfolio.account)
    result: dict[str, Any] = dict.fromkeys(MODES)
    for mode, book in compared.books.items():
        result[mode] = risk_json(evaluate(book, portfolio.marks, portfolio.rules))
    result["notes"] = list(compared.notes)  # the wallet cannot fund every isolated margin: said beside cross
    return result


def equity_fan(portfolio: Portfolio, horizon_hours: int, seed: int, model: str) -> dict[str, Any]:
    """Return the fan chart's data: ``risk.montecarlo.equity_quantiles`` as JSON values."""
    fan = equity_quantiles(portfolio, horizon_hours=horizon_hours, seed=seed, model=model, paths=FAN_PATHS)
    return {
        "hours": fan["hours"],
        "quantiles": {key: _finite(band) for key, band in fan["quantiles"].items()},
        "equity_now": jsonable(fan["equity_now"]),
        "maintenance_margin": jsonable(fan["maintenance_margin"]),
        "paths": FAN_PATHS,
    }


@lru_cache(maxsize=8)
def backtest_series(strategy: str, mode: str) -> dict[str, Any]:
    """Return the run of ``strategy`` on the shipped sample: equity and margin ratio per mode over time (ms UTC)."""
    factory = resolve_strategy(strategy)
    probe = factory()
    market = sample_market(probe.symbols, interval="1h", spot=probe.needs_spot)
    result = run_backtest(factory, market, get_rules("binance"), mode=mode, scanner=kernel_scan)
    modes = {}
    for name, run in result.modes.items():
        modes[name] = {
            "time": [stamp.isoformat() for stamp in run.equity.index],
            "equity": _finite(run.equity["equity"]),
            "margin_ratio": _finite(run.equity["margin_ratio"]),
            "liquidations": jsonable(
                run.liquidations.assign(time=run.liquidations["time"].map(lambda t: t.isoformat())).to_dict("records")
            ),
        }
    return {"strategy": result.strategy, "venue": result.venue, "symbols": list(result.symbols), "modes": modes}


def monitor_events(ticks: int | None) -> Iterator[str]:
    """Yield one server-sent event per paper-monitor tick of the crash replay (margin ratio as a fraction)."""
    portfolio = load_portfolio(EXAMPLES / PAPER_CRASH)
    venue = paper_from_episode(portfolio, PAPER_EPISODE)
    monitor = Monitor(reader=venue)
    count = 0
    while not venue.finished and (ticks is None or count < ticks):
        tick = monitor.tick()
        count += 1
        payload = {
            "tick": count,
            "time_ms": tick.snapshot.time_ms,
            "margin_ratio": tick.margin_ratio,
            "equity": tick.risk.account.margin_balance,
            "rows": [dataclasses.asdict(row) for row in tick.rows],
            "alerts": [alert.message for alert in tick.alerts],
        }
        yield f"event: tick\ndata: {json.dumps(jsonable(payload), allow_nan=False)}\n\n"
    yield "event: end\ndata: {}\n\n"


def _plotly_js() -> Path:
    return Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))


def create_app(*, token: str | None = None, store_url: str | None = None) -> FastAPI:
    """Return the dashboard app; with ``token``, every ``/api`` route needs ``Authorization: Bearer <token>``.

    ``store_url``: the database ``GET /api/backtests`` reads (SQLite path or SQLAlchemy URL); none, empty list.
    """
    app = FastAPI(
        title="crossmargin dashboard",
        version="0.1.0",
        description="Cross vs isolated margin of a perpetual-futures account: money in quote currency, "
        "sizes in base units, moves and ratios as fractions.",
    )

    def authorize(credentials: Credentials) -> None:
        if token is None:
            return
        given = "" if credentials is None else credentials.credentials
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise _UnauthorizedError

    api = APIRouter(prefix="/api", dependencies=[Depends(authorize)])

    @app.exception_handler(_UnauthorizedError)
    async def _unauthorized(_request: Request, _error: _UnauthorizedError) -> JSONResponse:
        return JSONResponse(
            status_code=401, content={"detail": "missing or wrong bearer token"}, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(InputError)
    async def _input(_request: Request, error: InputError) -> JSONResponse:
        return _error(422, error)

    @app.exception_handler(CrossmarginError)
    async def _crossmargin(_request: Request, error: CrossmarginError) -> JSONResponse:
        return _error(400, error)

    @api.get("/health")
    def health() -> dict[str, str]:
        """Say the server is up."""
        return {"status": "ok"}

    @api.get("/example")
    def example() -> dict[str, Any]:
        """Return examples/case_study.toml: its text and the same portfolio as JSON (the editor's default)."""
        text = _example_text(CASE_STUDY)
        return {"name": "case_study.toml", "toml": text, "portfolio": tomllib.loads(text)}

    @api.post("/check")
    def check_route(request: PortfolioIn) -> dict[str, Any]:
        """Evaluate the portfolio as given, then all cross and all isolated: ``crossmargin check --json`` objects."""
        return check(request.load())

    @api.post("/stress/grid")
    def stress_grid_route(request: StressGridIn) -> dict[str, Any]:
        """Move ``x`` and ``y`` over a grid; equity and pool ratios per cell as given, all cross and all isolated."""
        moves = grid_moves(request.range, request.step)
        if len(moves) > 41:
            raise InputError("step", request.step, f"at least {request.range / 20:g} (at most 20 steps each side)")
        grid = stress_grid(request.portfolio.load(), request.x, request.y, moves, field="x")
        return grid.to_json()

    @api.post("/montecarlo")
    def montecarlo_route(request: MonteCarloIn) -> dict[str, Any]:
        """Liquidation probability within the horizon per pool (fractions) and an equity fan per hour."""
        if request.paths * request.horizon_hours > MAX_PATH_HOURS:
            raise InputError(
                "paths",
                request.paths,
                f"at most {MAX_PATH_HOURS // request.horizon_hours:,} at a {request.horizon_hours} h horizon",
            )
        portfolio = request.portfolio.load()
        result = liquidation_probability(
            portfolio,
            horizon_hours=float(request.horizon_hours),
            paths=request.paths,
            model=request.model,
            seed=request.seed,
            progress=False,
        )
        odds: dict[str, Any] = jsonable(dataclasses.asdict(result))
        return {"odds": odds, "fan": equity_fan(portfolio, request.horizon_hours, request.seed, request.model)}

    @api.post("/backtest")
    def backtest_route(request: BacktestIn) -> dict[str, Any]:
        """Run a built-in strategy on the shipped 1h sample bars: equity (quote) and margin ratio per mode."""
        return backtest_series(request.strategy, request.mode)

    @api.get("/backtests")
    def backtests_route(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        """List the backtest runs recorded in the store (empty when the server has no store)."""
        if store_url is None:
            return {"store": None, "runs": []}
        with Store(store_url) as store:
            runs = [
                {
                    "id": record.id,
                    "strategy": record.strategy,
                    "venue": record.venue,
                    "symbols": record.symbols,
                    "start": record.start.isoformat(),
                    "end": record.end.isoformat(),
                    "summary": record.summary,
                }
                for record in store.backtests(limit=limit)
            ]
            return {"store": store.url, "runs": jsonable(runs)}

    @api.get("/monitor/stream", response_class=StreamingResponse)
    def monitor_stream(ticks: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> StreamingResponse:
        """Server-sent events: the paper venue replaying the 2025-10-10 crash with examples/paper_crash.toml."""
        return StreamingResponse(monitor_events(ticks), media_type="text/event-stream")

    app.include_router(api)

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(_plotly_js(), media_type="text/javascript")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


class _UnauthorizedError(Exception):
    """A request to /api without the server's bearer token."""
