"""Benchmark: evaluating ``${{ }}`` expressions with their bounds, beside Jinja2's plain sandbox.

    python bench/expressions.py                 # 20,000 evaluations per case, best of 7 rounds
    python bench/expressions.py --number 2000   # quicker

Each case is evaluated through ``flowbuilder.expressions.evaluate`` (the runner's path: the
bounded sandbox, a per-evaluation budget, errors turned into ExpressionError) and, as the
baseline, through a function compiled by Jinja2's own ``ImmutableSandboxedEnvironment``
with no bounds and no error handling. Rounds of the two alternate, so a noisy machine
slows both alike; the figure kept is each one's fastest round. The ratio is the cost of the
bounds, the budget and the error handling together — except for plain attribute chains and
chains compared with a whole number (the first three cases), which ``evaluate`` reads
without Jinja2 at all (``flowbuilder.expressions._quick_value``), so they come out faster
than the baseline.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from typing import Any

SCOPE: dict[str, Any] = {
    "params": {"n": 3, "name": "ada", "xs": list(range(20))},
    "env": {"HOME": "/root"},
    "tasks": {"fetch": {"output": {"count": 5}, "outputs": {}, "status": "succeeded"}},
}
CASES = [
    "params.n",
    "tasks.fetch.output.count",
    "params.n > 0",
    "params.n * 2 + 1",
    "params.xs | length",
    "'hi ' ~ params.name",
    "params.name | upper",
    "params.xs | map('string') | join(',')",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000, help="evaluations per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each, alternating")
    options = parser.parse_args(argv)

    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from flowbuilder.expressions import evaluate

    plain = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    print(f"{'expression':40} {'bounded':>10} {'plain':>10} {'ratio':>6}")
    for expression in CASES:
        baseline = plain.compile_expression(expression, undefined_to_none=False)
        assert evaluate(expression, SCOPE) == baseline(**SCOPE), expression
        bounded_best = plain_best = float("inf")
        for _ in range(options.rounds):
            bounded = timeit.timeit(lambda e=expression: evaluate(e, SCOPE), number=options.number)
            plain_time = timeit.timeit(lambda f=baseline: f(**SCOPE), number=options.number)
            bounded_best, plain_best = min(bounded_best, bounded), min(plain_best, plain_time)
        bounded_us, plain_us = bounded_best / options.number * 1e6, plain_best / options.number * 1e6
        print(f"{expression:40} {bounded_us:8.2f}us {plain_us:8.2f}us {bounded_us / plain_us:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
