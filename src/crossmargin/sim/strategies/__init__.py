"""Built-in strategies, each a small module with its parameters; ``STRATEGIES`` maps CLI names to them."""

from __future__ import annotations

from collections.abc import Callable

from crossmargin.sim.strategies.basis import Basis
from crossmargin.sim.strategies.case_study import CaseStudy
from crossmargin.sim.strategies.hedge_pair import HedgePair
from crossmargin.sim.strategies.scalp import Scalp
from crossmargin.sim.strategies.sma_cross import SmaCross, sma_cross_signals
from crossmargin.sim.strategy import Strategy

__all__ = ["STRATEGIES", "Basis", "CaseStudy", "HedgePair", "Scalp", "SmaCross", "sma_cross_signals"]

#: CLI name -> factory of the strategy with its default parameters.
STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "case-study": CaseStudy,
    "hedge-pair": HedgePair,
    "basis": Basis,
    "scalp": Scalp,
    "sma-cross": SmaCross,
}
