"""The JSON API against the library it wraps: same figures as ``evaluate`` and the CLI, errors as 4xx."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crossmargin.cli import app as cli_app
from crossmargin.cli.serve import register
from crossmargin.console import risk_json
from crossmargin.margin.account import evaluate
from crossmargin.portfolio import all_cross, all_isolated, parse_portfolio
from crossmargin.risk.stress import stress_grid
from crossmargin.web.app import STATIC, create_app
from tests.fixtures.harness import CASE_STUDY, command_app

#: The case study's ETH short, and the same short isolated on 2,300 USDT (entry notional / leverage: 2,104.65).
ETH_CROSS = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "cross"'
ETH_ISOLATED = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "isolated"\nisolated_margin = 2300'


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


@pytest.fixture(scope="module")
def case_study() -> dict[str, Any]:
    return tomllib.loads(CASE_STUDY.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def mixed() -> dict[str, Any]:
    """The case study with the ETH short isolated at 2,300 USDT, as the API's JSON portfolio."""
    text = CASE_STUDY.read_text(encoding="utf-8")
    assert ETH_CROSS in text
    return tomllib.loads(text.replace(ETH_CROSS, ETH_ISOLATED))


def test_check_equals_evaluate(client: TestClient, case_study: dict[str, Any]) -> None:
    response = client.post("/api/check", json=case_study)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["as_given", "cross", "isolated", "notes"]
    loaded = parse_portfolio(case_study)
    for key, account in (
        ("cross", all_cross(loaded.account)),
        ("isolated", all_isolated(loaded.account)),
        ("as_given", loaded.account),
    ):
        expected = evaluate(account, loaded.marks, loaded.rules)
        assert body[key] == risk_json(expected)
        shown = [p["liquidation_price"] for p in body[key]["positions"]]
        assert shown == [p.liquidation_price for p in expected.positions]


def test_eth_isolated_liquidation_equals_cli(client: TestClient, case_study: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli_app, ["check", str(CASE_STUDY), "--compare", "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.stdout)
    web = client.post("/api/check", json=case_study).json()

    def eth(payload: dict[str, Any]) -> float:
        rows = payload["isolated"]["positions"]
        price: float = next(p["liquidation_price"] for p in rows if p["symbol"] == "ETHUSDT")
        return price

    assert eth(web) == eth(cli)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"wallet_balance": -1}, "wallet_balance"),
        ({"marks": {"BTCUSDT": 1, "ETHUSDT": 1, "SOLUSDT": 1, "NOPEUSDT": 1}}, "marks.NOPEUSDT"),
        ({"venue": "nowhere"}, "venue"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, case_study: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    response = client.post("/api/check", json={**case_study, **change})
    assert response.status_code == 422
    assert field in response.text


def test_bad_size_is_422_naming_the_field(client: TestClient, case_study: dict[str, Any]) -> None:
    positions = [dict(p) for p in case_study["positions"]]
    positions[1]["size"] = 0
    response = client.post("/api/check", json={**case_study, "positions": positions})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "positions", 1, "size"]


def test_token_required_when_set(case_study: dict[str, Any]) -> None:
    guarded = TestClient(create_app(token="s3cret"))
    assert guarded.get("/api/health").status_code == 401
    assert guarded.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.post("/api/check", json=case_study).status_code == 401
    assert guarded.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_stress_grid_has_both_boundaries(client: TestClient, case_study: dict[str, Any]) -> None:
    request = {"portfolio": case_study, "x": "BTCUSDT", "y": "ETHUSDT", "range": 0.3, "step": 0.1}
    body = client.post("/api/stress/grid", json=request).json()
    assert len(body["moves"]) == 7
    assert len(body["cross_ratio"]) == 7
    assert len(body["isolated_ratio"][0]) == 7
    bad = client.post("/api/stress/grid", json={**request, "x": "DOGEUSDT"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "x"


def test_montecarlo_probabilities_and_fan(client: TestClient, case_study: dict[str, Any]) -> None:
    body = client.post("/api/montecarlo", json={"portfolio": case_study, "horizon_hours": 12, "paths": 500}).json()
    assert {odds["mode"] for odds in body["odds"]["pools"]} == {"cross", "isolated"}
    assert all(0 <= odds["probability"] <= 1 for odds in body["odds"]["pools"])
    assert len(body["fan"]["quantiles"]["0.5"]) == 12
    too_many = client.post("/api/montecarlo", json={"portfolio": case_study, "paths": 20_001})
    assert too_many.status_code == 422


def test_backtest_series_per_mode(client: TestClient) -> None:
    body = client.post("/api/backtest", json={"strategy": "case-study", "mode": "both"}).json()
    assert set(body["modes"]) == {"cross", "isolated"}
    for run in body["modes"].values():
        assert len(run["time"]) == len(run["equity"]) == len(run["margin_ratio"]) > 0


def test_backtests_without_store(client: TestClient) -> None:
    assert client.get("/api/backtests").json() == {"store": None, "runs": []}


def test_monitor_stream_yields_ticks(client: TestClient) -> None:
    ticks = []
    with client.stream("GET", "/api/monitor/stream?ticks=4") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: {}":
                ticks.append(json.loads(line[len("data: ") :]))
    assert [tick["tick"] for tick in ticks] == [1, 2, 3, 4]
    assert all(0 <= tick["margin_ratio"] < 1 for tick in ticks)
    assert {row["key"] for row in ticks[0]["rows"]} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}


def test_plotly_served_locally(client: TestClient) -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert "cdn.plot.ly" not in html
    assert '<script src="/vendor/plotly.min.js">' in html
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 200
    assert len(response.content) > 1_000_000
    assert client.get("/").status_code == 200


def test_openapi_lists_routes(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/api/check", "/api/stress/grid", "/api/montecarlo", "/api/backtest", "/api/monitor/stream"} <= paths


def test_serve_refuses_a_public_host_without_a_token() -> None:
    local = command_app(register)
    result = CliRunner().invoke(local, ["serve", "--host", "0.0.0.0"], env={"CROSSMARGIN_TOKEN": ""})
    assert result.exit_code == 2
    assert "token" in result.stderr
    assert result.stderr.count("\n") == 1


def test_check_of_a_mixed_book_is_the_book_as_given_first(
    client: TestClient, mixed: dict[str, Any], tmp_path: Path
) -> None:
    body = client.post("/api/check", json=mixed).json()
    loaded = parse_portfolio(mixed)
    assert body["as_given"] == risk_json(evaluate(loaded.account, loaded.marks, loaded.rules))
    assert body["isolated"] == risk_json(evaluate(all_isolated(loaded.account), loaded.marks, loaded.rules))
    given, isolated = body["as_given"]["positions"][1], body["isolated"]["positions"][1]
    assert (given["margin_mode"], given["isolated_margin"]) == ("isolated", 2300.0)
    assert isolated["isolated_margin"] == 2300.0  # kept, not entry notional / leverage
    # Binance's isolated short, bracket 1 (MMR 0.4 %, cum 0): LP = (WB + q E) / (q MMR + q), WB = 2,300.
    assert given["liquidation_price"] == pytest.approx((2300 + 5 * 2104.65) / (5 * 0.004 + 5), rel=1e-12)
    assert isolated["liquidation_price"] == given["liquidation_price"]
    # The same figures as ``crossmargin check --compare --json`` of the same file.
    path = tmp_path / "mixed.toml"
    path.write_text(CASE_STUDY.read_text(encoding="utf-8").replace(ETH_CROSS, ETH_ISOLATED), encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["check", str(path), "--compare", "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.stdout)
    assert {key: body[key] for key in ("as_given", "cross", "isolated")} == cli


def test_stress_grid_has_the_book_as_given_beside_the_recasts(client: TestClient, mixed: dict[str, Any]) -> None:
    request = {"portfolio": mixed, "x": "BTCUSDT", "y": "ETHUSDT", "range": 0.2, "step": 0.1}
    body = client.post("/api/stress/grid", json=request).json()
    grid = stress_grid(parse_portfolio(mixed), "BTCUSDT", "ETHUSDT", [-0.2, -0.1, 0.0, 0.1, 0.2])
    assert body["modes"] == ["as_given", "cross", "isolated"]
    assert body["as_given_ratio"] == grid.to_json()["as_given_ratio"]  # inf (a bankrupt pool) as null
    assert body["as_given_liquidated"] == grid.as_given_liquidated.tolist()
    assert body["as_given_liquidated"][3] == [True] * 5  # ETH +10 %: past the 7.9 % that its 2,300 hold
    assert body["cross_liquidated"][3] == [False] * 5
    assert body["isolated_liquidated"] == grid.isolated_liquidated.tolist()
