"""How many CPU cores this process can use right now: other busy processes stall the
threads of llama.cpp and torch, so both size their thread pools from this."""

from __future__ import annotations

import math
import os
import time


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. in containers)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cpu_jiffies() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait; steal counts as busy: the CPU is not ours
    return sum(values) - idle, sum(values)


def idle_cores(window_s: float = 0.1) -> int:
    """Cores not kept busy by other processes right now (all of them if unknown, at least 1).

    llama.cpp's threads wait for each other at every layer; if one of them has to share its
    core with another busy process, generation gets 20-50x slower (measured: 0.3 vs 7 tokens/s
    on 2 cores with one other busy process). One thread fewer only costs about half.
    """
    cores = available_cores()
    machine = os.cpu_count() or cores
    try:
        own0, (busy0, total0) = time.process_time(), _cpu_jiffies()
        time.sleep(window_s)
        own1, (busy1, total1) = time.process_time(), _cpu_jiffies()
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return cores
    return _idle(cores, machine, (own1 - own0) * tick, busy1 - busy0, total1 - total0)


def _idle(cores: int, machine: int, own: float, busy: int, total: int) -> int:
    """Idle cores from jiffy deltas: all machine jiffies, the busy ones, our own."""
    if total <= 0:
        return cores
    # Our own threads may still be spinning after the last call: that is not competition.
    others = max(0.0, busy - own) / total * machine
    return max(1, min(cores, machine - math.ceil(others - 0.2)))


class CoreMeter:
    """`idle_cores` for frequent short calls (embedding a question): measured over the time
    since the previous measurement, at most once per `interval_s`, so that no call waits
    except the first. Torch's threads stall like llama.cpp's when a core is taken: one query
    took 1.9 s on 2 threads against 0.19 s on 1 with other processes busy (measured)."""

    def __init__(self, interval_s: float = 1.0):
        self.interval_s = interval_s
        self._last: tuple[float, float, int, int] | None = None  # when, own s, busy, total
        self._cores = available_cores()

    def __call__(self) -> int:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.interval_s:
            return self._cores
        try:
            if self._last is None:
                self._cores = idle_cores()
            own, (busy, total) = time.process_time(), _cpu_jiffies()
            tick = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return self._cores
        if self._last is not None:
            _, own0, busy0, total0 = self._last
            machine = os.cpu_count() or available_cores()
            self._cores = _idle(
                available_cores(), machine, (own - own0) * tick, busy - busy0, total - total0
            )
        self._last = (now, own, busy, total)
        return self._cores
