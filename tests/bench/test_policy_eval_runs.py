"""bench/policy_eval.py stays runnable and right: its expected AWS decisions hold (no timing)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "policy_eval.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_policy_eval", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_selfiam_agrees_with_every_expected_decision() -> None:
    bench = _bench()
    assert len(bench.SELF_SERVICE_CASES) == 12
    assert len(bench.HEAVY_CASES) == 20
    heavy = bench.heavy_principal()
    assert len(heavy.documents) == 10
    assert sum(len(d["Statement"]) for d in heavy.documents) == 100
    assert bench.check() == []


def test_moto_comparison_runs_and_misses_conditions() -> None:
    bench = _bench()
    principal = bench.self_service_principal()
    moto = bench.MotoPrincipal(principal.documents, principal.cases)
    wrong = bench.wrong(principal.cases, moto.decisions())
    # moto ignores BoolIfExists and ${aws:username}: it cannot get all of these right
    assert 0 < len(wrong) < len(principal.cases)
