"""Wildcard worst case: selfiam's linear matcher side by side with moto's regex evaluator.

Run: ``.venv/bin/python bench/wildcards.py`` (``--quick`` for a short run).

The input is issue 10's finding: a statement allowing ``iam:GetUser`` on
``arn:aws:iam::*:user/*a*a*a*a*a*b`` and a request for ``arn:aws:iam::ACCOUNT:user/`` followed
by ``n`` ``a``\\ s, which the pattern does not match (no final ``b``): a backtracking matcher
tries every way of placing the five ``a``\\ s before giving up. selfiam's matcher sees at
once that the value does not end in ``b``, so a second pattern, ``.../user/*a*a*a*a*a*c*``,
makes it scan the whole value (for the ``c``), which is its own worst case; moto
backtracks on both alike.

* selfiam: one decision through ``evaluate`` with the policy parsed and indexed once, as a
  server holds it. Every request has its own ARN (the account field differs), so the
  memo of answers in front of the pattern never answers and each decision runs the
  matcher. Also printed: the steps ``ArnGlob.scan`` counts for that ARN (see
  ``selfiam.policy.globs``), which do not depend on the machine.
* moto (``moto.iam.access_control.IAMPolicy.is_action_permitted``, the document parsed
  once): it compiles each pattern to ``^...$`` with ``.*`` for ``*`` and calls
  ``re.match``. Its time grows about as ``n**5``, so moto runs only while one decision
  takes less than ``--moto-cap`` seconds (1 s by default): **moto's input is capped**, and
  the lengths it would not finish in time are printed as not run.

Each figure is the median of several repeats, in microseconds per decision. Both evaluators
must answer implicitDeny (the pattern does not match); the script exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from selfiam.policy import PolicyKind, PolicySet, Request, RequestContext, evaluate, parse_policy
from selfiam.policy.globs import ArnGlob, Steps

PATTERNS = ("arn:aws:iam::*:user/*a*a*a*a*a*b", "arn:aws:iam::*:user/*a*a*a*a*a*c*")
ACTION = "iam:GetUser"


def policy(pattern: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ACTION, "Resource": pattern}],
        }
    )


SELFIAM_LENGTHS = (8, 16, 24, 32, 200, 2000)
MOTO_LENGTHS = (8, 12, 16, 20, 24, 28, 32, 40, 48, 64, 200, 2000)


def arn(n: int, account: int = 123456789012) -> str:
    return f"arn:aws:iam::{account:012d}:user/" + "a" * n


def _median_us(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1e6


def selfiam_us(pattern: str, n: int, decisions: int, repeats: int) -> tuple[float, str]:
    """Median microseconds per decision, and the decision."""
    policies = PolicySet([parse_policy(policy(pattern), PolicyKind.MANAGED, "p")])
    context = RequestContext({})
    batches = [
        [Request(ACTION, arn(n, r * decisions + i), context) for i in range(decisions)]
        for r in range(repeats + 1)
    ]
    answers = {evaluate(request, policies).decision for request in batches[0]}  # warm-up
    samples = []
    for batch in batches[1:]:
        start = time.perf_counter()
        for request in batch:
            evaluate(request, policies)
        samples.append((time.perf_counter() - start) / decisions)
    (answer,) = answers
    return _median_us(samples), answer


def steps(pattern: str, n: int) -> int:
    counter = Steps()
    ArnGlob(pattern).scan(arn(n), counter)
    return counter.count


class Moto:
    def __init__(self, pattern: str) -> None:
        from moto.iam.access_control import IAMPolicy, PermissionResult

        self.policy = IAMPolicy(policy(pattern))
        self.names = {
            PermissionResult.PERMITTED: "allowed",
            PermissionResult.DENIED: "explicitDeny",
            PermissionResult.NEUTRAL: "implicitDeny",
        }

    def decide(self, resource: str) -> str:
        return self.names[self.policy.is_action_permitted(ACTION, resource)]


def moto_us(moto: Moto, n: int, repeats: int, budget: float) -> tuple[float, str]:
    """Median microseconds per decision: enough decisions per repeat to fill `budget`."""
    resource = arn(n)
    start = time.perf_counter()
    answer = moto.decide(resource)
    once = time.perf_counter() - start
    loops = max(1, int(budget / max(once, 1e-7)))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            moto.decide(resource)
        samples.append((time.perf_counter() - start) / loops)
    return _median_us(samples), answer


def _time_one(decide: Callable[[str], str], resource: str) -> float:
    start = time.perf_counter()
    decide(resource)
    return time.perf_counter() - start


def compare(pattern: str, args: argparse.Namespace) -> list[str]:
    """Print one pattern's table; return the wrong answers."""
    decisions = 50 if args.quick else 400
    budget = 0.05 if args.quick else 0.2
    moto = Moto(pattern)
    moto_results: dict[int, tuple[float, str] | None] = {}
    capped = False
    for n in MOTO_LENGTHS:
        if capped or _time_one(moto.decide, arn(n)) > args.moto_cap:
            capped = True
            moto_results[n] = None
            continue
        moto_results[n] = moto_us(moto, n, args.repeats, budget)

    wrong: list[str] = []
    ours_by_n: dict[int, float] = {}
    print(f"Resource {pattern}; ARN user/ + n 'a's (no match)")
    print(f"{'n':>6}{'selfiam us':>12}{'steps':>8}{'moto us':>14}{'moto/selfiam':>14}")
    for n in sorted(set(SELFIAM_LENGTHS) | set(MOTO_LENGTHS)):
        ours, answer = selfiam_us(pattern, n, decisions, args.repeats)
        ours_by_n[n] = ours
        if answer != "implicitDeny":
            wrong.append(f"selfiam {pattern} n={n}: {answer}")
        theirs = moto_results.get(n)
        if n not in moto_results:
            moto_text, ratio = "-", "-"
        elif theirs is None:
            moto_text, ratio = "not run", "-"
        else:
            if theirs[1] != "implicitDeny":
                wrong.append(f"moto {pattern} n={n}: {theirs[1]}")
            moto_text, ratio = f"{theirs[0]:,.1f}", f"{theirs[0] / ours:,.0f}x"
        print(f"{n:>6}{ours:>12.1f}{steps(pattern, n):>8}{moto_text:>14}{ratio:>14}")
    ran = [(n, r[0]) for n, r in moto_results.items() if r is not None]
    if ran:
        last_n, last_us = ran[-1]
        print(
            f"wildcards: {pattern}: n={last_n} selfiam {ours_by_n[last_n]:.1f} us, moto "
            f"{last_us:,.0f} us (ratio {last_us / ours_by_n[last_n]:,.0f}); moto not run beyond "
            f"n={last_n}; selfiam n=200 {ours_by_n[200]:.1f} us, n=2000 {ours_by_n[2000]:.1f} us"
        )
    print()
    return wrong


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer decisions (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--moto-cap", type=float, default=1.0, help="seconds one moto decision may take"
    )
    args = parser.parse_args(argv)
    print(
        f"python {sys.version.split()[0]}; median of {args.repeats} repeats; moto runs while "
        f"one decision takes < {args.moto_cap} s"
    )
    print()
    wrong = [w for pattern in PATTERNS for w in compare(pattern, args)]
    for problem in wrong:
        print(f"WRONG: {problem}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
