"""What a finished job asked for next to what it used, in plain words, and a hint
when the request was clearly far too large.

The numbers:

- CPU efficiency = CPU time used / (time it ran x CPUs it held).
- Time use = time it ran / time it asked for.
- Memory = its peak (sampled every so often while it runs) / memory set aside.

When there is a hint (and why only then):

- Only for jobs that finished by themselves (COMPLETED). A job that failed or was
  cancelled stopped early for reasons unrelated to its request, so "you used 2
  minutes of 8 hours" says nothing about what it needed. Two endings get a hint the
  other way round instead: it ran out of time, or out of memory: ask for more.
- Time: at most a quarter of the time asked for was used AND at least 30 minutes
  were left over. A 5-minute request used for 1 minute is not worth a remark; an
  hour used for 30 seconds is, because shorter requests start sooner (the scheduler
  fits them into gaps).
- CPUs: two or more were held, the job ran at least 30 seconds (shorter runs are
  mostly start-up) and it kept at most half of them busy.
- Memory: the peak was measured, is at most a quarter of the request, and at least
  2 GB were left over. Smaller surpluses cost little and the sampler can miss short
  peaks, so those are left alone.
- Suggestions leave room: about twice what was used, rounded up to a round value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from app.web.words import plural, seconds_words
from managers.scheduler import JobState, JobUsage

MIN_SECONDS_FOR_CPU = 30
SPARE_MINUTES_FOR_HINT = 30
SPARE_KB_FOR_HINT = 2 * 1024 * 1024
OVERSIZED_SHARE = 0.25
ROUND_MINUTES = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 1440)
ROUND_MB = (256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)


@dataclass(frozen=True)
class Efficiency:
    """A job's use of its request, ready to show; empty strings mean "not known"."""

    ran_for: str
    asked_for: str
    time_percent: int | None
    cpu_percent: int | None
    peak_memory: str
    asked_memory: str
    hints: list[str] = field(default_factory=list)


def size_words(kb: int) -> str:
    """Kibibytes as ``800 KB``, ``120 MB`` or ``1.5 GB``."""
    if kb < 1024:
        return f"{kb} KB"
    mb = kb / 1024
    if mb < 1024:
        return f"{mb:.0f} MB"
    gb = mb / 1024
    return f"{gb:.0f} GB" if gb >= 10 or gb == int(gb) else f"{gb:.1f} GB"


def cpu_percent(usage: JobUsage) -> int | None:
    """Share of the held CPUs' time spent computing; None when nothing ran yet or the
    CPU time is not known (a running job's is added up at its end)."""
    if usage.cpu_seconds is None or usage.elapsed_seconds <= 0 or usage.job.cpus <= 0:
        return None
    if usage.job.state in (JobState.RUNNING, JobState.PENDING, JobState.SUSPENDED):
        return None
    return min(100, round(100 * usage.cpu_seconds / (usage.elapsed_seconds * usage.job.cpus)))


def time_percent(usage: JobUsage) -> int | None:
    limit = usage.job.time_limit_minutes
    if not limit:
        return None
    return min(100, round(100 * usage.elapsed_seconds / (limit * 60)))


def efficiency(usage: JobUsage) -> Efficiency:
    limit = usage.job.time_limit_minutes
    return Efficiency(
        ran_for=seconds_words(usage.elapsed_seconds) if usage.job.started_at else "",
        asked_for=seconds_words(limit * 60) if limit else "no limit",
        time_percent=time_percent(usage),
        cpu_percent=cpu_percent(usage),
        peak_memory=size_words(usage.memory_peak_kb) if usage.memory_peak_kb else "",
        asked_memory=size_words(usage.memory_requested_kb) if usage.memory_requested_kb else "",
        hints=hints(usage),
    )


def hints(usage: JobUsage) -> list[str]:
    """Plain advice for the next run, by the rules in this module's docstring."""
    state = usage.job.state
    if state is JobState.TIMEOUT:
        return [_timeout_hint(usage)]
    if state is JobState.OUT_OF_MEMORY:
        asked = usage.memory_requested_kb
        of = f" than the {size_words(asked)} set aside for it" if asked else ""
        return [f"It needed more memory{of}: ask for more memory next time."]
    if state is not JobState.COMPLETED:
        return []
    found = [_time_hint(usage), _cpu_hint(usage), _memory_hint(usage)]
    return [hint for hint in found if hint]


def _timeout_hint(usage: JobUsage) -> str:
    limit = usage.job.time_limit_minutes
    if not limit:
        return "It ran out of time: ask for more time next time."
    more = _round_up(limit * 2, ROUND_MINUTES, 1440)
    return (
        f"It ran out of its {seconds_words(limit * 60)}: ask for more time next time "
        f"(about {seconds_words(more * 60)}), or make it save its progress as it goes."
    )


def _time_hint(usage: JobUsage) -> str:
    limit = usage.job.time_limit_minutes
    if not limit:
        return ""
    used_minutes = usage.elapsed_seconds / 60
    if used_minutes > OVERSIZED_SHARE * limit or limit - used_minutes < SPARE_MINUTES_FOR_HINT:
        return ""
    suggestion = _round_up(math.ceil(2 * used_minutes), ROUND_MINUTES, 1440)
    return (
        f"You asked for {seconds_words(limit * 60)} and used "
        f"{seconds_words(usage.elapsed_seconds)}: asking for about "
        f"{seconds_words(suggestion * 60)} next time lets it start sooner."
    )


def _cpu_hint(usage: JobUsage) -> str:
    held = usage.job.cpus
    if held < 2 or usage.cpu_seconds is None or usage.elapsed_seconds < MIN_SECONDS_FOR_CPU:
        return ""
    busy = max(1, round(usage.cpu_seconds / usage.elapsed_seconds))
    if busy > held / 2:
        return ""
    return (
        f"It kept about {busy} of the {held} CPUs it asked for busy: asking for "
        f"{plural(busy, 'CPU')} next time lets it start sooner and leaves the rest for others."
    )


def _memory_hint(usage: JobUsage) -> str:
    peak, asked = usage.memory_peak_kb, usage.memory_requested_kb
    if not peak or not asked:
        return ""
    if peak > OVERSIZED_SHARE * asked or asked - peak < SPARE_KB_FOR_HINT:
        return ""
    suggestion = _round_up(math.ceil(2 * peak / 1024), ROUND_MB, 1024)
    return (
        f"It used at most {size_words(peak)} of the {size_words(asked)} of memory set "
        f"aside for it: asking for about {size_words(suggestion * 1024)} next time lets "
        "it start sooner."
    )


def _round_up(value: int, steps: tuple[int, ...], beyond: int) -> int:
    """The first round step at or above ``value``; past the table, whole ``beyond``s."""
    for step in steps:
        if step >= value:
            return step
    return math.ceil(value / beyond) * beyond
