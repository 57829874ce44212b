"""Alert rules on the monitor's figures, raised once per crossing, delivered to the terminal, a log, a webhook.

Rules file (TOML)::

    [[rules]]
    kind = "margin_ratio_above"     # the cross account's ratio (requirement / margin balance) > threshold
    threshold = 0.8
    [[rules]]
    kind = "distance_below"         # a position's distance to liquidation (fraction of mark) < threshold
    threshold = 0.15
    [[rules]]
    kind = "no_stop_loss"           # a position the venue reports without a stop-loss
    [[rules]]
    kind = "leverage_above"         # a position's leverage > threshold
    threshold = 20
    [[rules]]
    kind = "stale_data_above"       # the venue's data older than threshold seconds
    threshold = 30
    [webhook]
    url = "http://127.0.0.1:9000/hook"   # optional: each alert is POSTed as JSON

Without a file the defaults above apply. An alert fires when its condition becomes true for a key (the
account, or one position) and not again until the condition has been false; so one crossing gives one
alert, not one per tick. Delivery never raises: a failed webhook is logged.
"""

from __future__ import annotations

import json
import logging
import tomllib
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crossmargin.errors import InputError, PortfolioFileError, suggest
from crossmargin.numeric import require_positive

__all__ = [
    "DEFAULT_RULES",
    "KINDS",
    "LOG",
    "Alert",
    "AlertBook",
    "Rule",
    "RuleKind",
    "Subject",
    "deliver_webhook",
    "load_rules",
]

RuleKind = Literal["margin_ratio_above", "distance_below", "no_stop_loss", "leverage_above", "stale_data_above"]
KINDS: tuple[RuleKind, ...] = (
    "margin_ratio_above",
    "distance_below",
    "no_stop_loss",
    "leverage_above",
    "stale_data_above",
)
LOG = logging.getLogger("crossmargin.alerts")


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: ``kind`` and its ``threshold`` (fraction for ratios and distances; x for leverage)."""

    kind: RuleKind
    threshold: float | None = None


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("margin_ratio_above", 0.8),
    Rule("distance_below", 0.15),
    Rule("no_stop_loss"),
    Rule("leverage_above", 20.0),
    Rule("stale_data_above", 30.0),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """What the rules look at: the account (key '') or one position (key 'SYMBOL' / 'SYMBOL:side')."""

    key: str
    margin_ratio: float | None = None
    stale_seconds: float | None = None
    distance: float | None = None
    leverage: float | None = None
    has_stop: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """An alert raised at ``time_ms`` (ms since the Unix epoch, UTC) by ``rule`` for ``key``."""

    time_ms: int
    venue: str
    rule: str
    key: str
    value: float | None
    threshold: float | None
    message: str


def _breached(rule: Rule, subject: Subject) -> tuple[bool, float | None]:
    if rule.kind == "margin_ratio_above":
        value = subject.margin_ratio if subject.key == "" else None
        return value is not None and value > (rule.threshold or 0.0), value
    if rule.kind == "distance_below":
        value = subject.distance
        return value is not None and subject.key != "" and value < (rule.threshold or 0.0), value
    if rule.kind == "leverage_above":
        value = subject.leverage
        return value is not None and subject.key != "" and value > (rule.threshold or 0.0), value
    if rule.kind == "stale_data_above":
        value = subject.stale_seconds if subject.key == "" else None
        return value is not None and value > (rule.threshold or 0.0), value
    return subject.key != "" and subject.has_stop is False, None


def _describe(rule: Rule, key: str, value: float | None) -> str:
    where = "account" if key == "" else key
    if rule.kind == "margin_ratio_above":
        return f"{where}: margin ratio {value:.1%} above {rule.threshold:.0%}"
    if rule.kind == "distance_below":
        return f"{where}: {value:.2%} from liquidation, below {rule.threshold:.0%}"
    if rule.kind == "leverage_above":
        return f"{where}: leverage {value:g}x above {rule.threshold:g}x"
    if rule.kind == "stale_data_above":
        return f"{where}: venue data {value:.0f} s old, above {rule.threshold:g} s"
    return f"{where}: no stop-loss"


@dataclass
class AlertBook:
    """The rules and which conditions are true now (for de-duplication); ``check`` returns the new alerts."""

    rules: Sequence[Rule] = DEFAULT_RULES
    active: set[tuple[str, str]] = field(default_factory=set)

    def check(self, venue: str, time_ms: int, subjects: Sequence[Subject]) -> list[Alert]:
        """Return the alerts whose condition has just become true; forget those that became false."""
        raised = []
        now_true: set[tuple[str, str]] = set()
        for rule in self.rules:
            for subject in subjects:
                hit, value = _breached(rule, subject)
                if not hit:
                    continue
                marker = (rule.kind, subject.key)
                now_true.add(marker)
                if marker in self.active:
                    continue
                raised.append(
                    Alert(
                        time_ms=time_ms,
                        venue=venue,
                        rule=rule.kind,
                        key=subject.key,
                        value=value,
                        threshold=rule.threshold,
                        message=_describe(rule, subject.key, value),
                    )
                )
        self.active = now_true
        return raised


def load_rules(path: Path) -> tuple[tuple[Rule, ...], str | None]:
    """Return the rules and webhook URL of the TOML file ``path`` (see the module docstring)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PortfolioFileError(
            "rules", str(path), "an existing TOML file", detail=f"no such file {str(path)!r}"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise PortfolioFileError("rules", str(path), "valid TOML", detail=f"invalid TOML: {error}") from None
    unknown = set(data) - {"rules", "webhook"}
    if unknown:
        raise InputError(sorted(unknown)[0], None, "rules | webhook", detail=f"unknown key {sorted(unknown)[0]!r}")
    rules = []
    for index, raw in enumerate(data.get("rules", [])):
        field_name = f"rules[{index}]"
        if not isinstance(raw, Mapping):
            raise InputError(field_name, raw, "a table ([[rules]])")
        kind = raw.get("kind")
        if kind not in KINDS:
            hint = suggest(str(kind), KINDS)
            detail = f"unknown kind {kind!r}" + (f" (did you mean {hint}?)" if hint else "")
            raise InputError(f"{field_name}.kind", kind, " | ".join(KINDS), detail=detail)
        threshold = raw.get("threshold")
        if kind == "no_stop_loss":
            rules.append(Rule(kind))
            continue
        value = require_positive(f"{field_name}.threshold", threshold)
        if kind in ("margin_ratio_above", "distance_below") and value >= 1:
            raise InputError(f"{field_name}.threshold", threshold, "a fraction in (0, 1), e.g. 0.8")
        rules.append(Rule(kind, value))
    webhook = data.get("webhook", {}).get("url")
    if webhook is not None and not (isinstance(webhook, str) and webhook.startswith(("http://", "https://"))):
        raise InputError("webhook.url", webhook, "an http:// or https:// URL")
    return (tuple(rules) or DEFAULT_RULES), webhook


def deliver_webhook(
    url: str, alert: Alert, *, timeout_s: float = 3.0, opener: Callable[..., Any] | None = None
) -> bool:
    """POST ``alert`` as JSON to ``url``; return True on a 2xx answer, log and return False otherwise."""
    body = json.dumps(_as_dict(alert)).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with (opener or urllib.request.urlopen)(request, timeout=timeout_s) as response:
            return 200 <= int(response.status) < 300
    except OSError as error:
        LOG.warning("webhook %s failed: %s", url, error)
        return False


def _as_dict(alert: Alert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in Alert.__dataclass_fields__}
