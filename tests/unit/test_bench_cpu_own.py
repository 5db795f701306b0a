"""bench.cpu.own_cpu_s (what bench.step_cpu divides by its steps) reads CPU time as the kernel accounts it."""

from __future__ import annotations

import os

from bench.cpu import own_cpu_s


def test_own_cpu_time_matches_what_the_process_itself_is_told() -> None:
    deadline = os.times()
    while os.times().user - deadline.user < 0.2:  # burn a little CPU so the figure is not zero
        sum(range(10_000))
    told = os.times()
    read = own_cpu_s(os.getpid())
    assert read >= 0.2
    assert abs(read - (told.user + told.system)) < 0.1  # clock ticks and the few ms between the two reads
