"""bench.pages' pacing (think time, staggered log-ins) and bench.cpu's process-tree accounting."""

from __future__ import annotations

import argparse
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import cpu
from bench.pages import RoundPlan, parse_think


def test_think_time_is_a_range_a_single_value_or_none() -> None:
    assert parse_think("2-6") == (2.0, 6.0)
    assert parse_think("3") == (3.0, 3.0)
    assert parse_think("0") == (0.0, 0.0)


@pytest.mark.parametrize("text", ["6-2", "-1", "x", "2-", "1-2-3"])
def test_a_backwards_negative_or_unreadable_think_time_is_refused(text: str) -> None:
    with pytest.raises((argparse.ArgumentTypeError, ValueError)):
        parse_think(text)


seconds = st.integers(0, 60_000).map(lambda n: n / 1000)  # written as people write them: no exponent


@given(seconds, seconds)
def test_any_ordered_pair_reads_back(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert parse_think(f"{low!r}-{high!r}") == (low, high)


def test_log_ins_are_spread_three_seconds_a_person_up_to_a_minute_and_not_without_think_time() -> None:
    thinking = RoundPlan((2.0, 6.0), None, 15, ())
    assert thinking.window(5) == 15.0 and thinking.window(20) == 60.0 and thinking.window(40) == 60.0
    assert RoundPlan((0.0, 0.0), None, 15, ()).window(20) == 0.0
    assert RoundPlan((2.0, 6.0), 7.5, 15, ()).window(20) == 7.5  # --stagger wins


def test_the_same_seed_draws_the_same_pauses_within_the_range() -> None:
    def draws(seed: int) -> list[list[float]]:
        return [[p.rng.uniform(*p.think) for _ in range(5)] for p in RoundPlan((2.0, 6.0), None, seed, ()).paces(4)]

    assert draws(15) == draws(15) != draws(16)
    assert all(2.0 <= d <= 6.0 for person in draws(15) for d in person)
    paces = RoundPlan((2.0, 6.0), None, 15, ()).paces(4)
    assert [p.delay for p in paces] == [0.0, 3.0, 6.0, 9.0]


def test_a_tree_counts_every_process_below_its_root_once() -> None:
    table = {pid: cpu.Proc(pid, ppid, "x", float(pid)) for pid, ppid in
             ((1, 0), (10, 1), (11, 10), (12, 10), (13, 12), (20, 1))}
    assert cpu.descendants(10, table) == {10, 11, 12, 13}
    assert cpu.tree_cpu(cpu.descendants(10, table), table) == 10 + 11 + 12 + 13


def test_this_process_reads_from_proc_with_its_own_time() -> None:
    me = cpu.processes()[os.getpid()]
    assert me.ppid == os.getppid() and me.cpu_s >= me.own_s > 0
