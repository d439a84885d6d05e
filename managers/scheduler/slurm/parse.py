"""Slurm's machine-readable output into the portal's models.

Written against Slurm 22.05 (Debian 12) and tolerant of the newer shapes (24.11+:
states as lists, numbers as ``{"set", "infinite", "number"}``), so that a site's
upgrade changes nothing here. Tests feed it output captured from a real cluster.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from typing import Any

from managers.scheduler.models import ClusterSnapshot, Job, Node, Partition
from managers.scheduler.states import job_state, node_state, partition_state

# Slurm's "not set" and "infinite" sentinels for 32-bit fields.
_NO_VALUE = {4294967294, 4294967295, 65534, 65535}


def number(value: Any) -> int | None:
    """An integer field, or None when Slurm says unset or infinite."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite", False):
            return None
        value = value.get("number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if int(value) in _NO_VALUE else int(value)


def words(value: Any) -> list[str]:
    """A state field, given as one string or as a list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def timestamp(value: Any) -> datetime | None:
    seconds = number(value)
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def nodes(sinfo: dict[str, Any]) -> list[Node]:
    result = []
    for raw in sinfo.get("nodes", []):
        flags = words(raw.get("state")) + words(raw.get("state_flags"))
        result.append(
            Node(
                name=str(raw["name"]),
                state=node_state(flags),
                address=str(raw.get("address") or ""),
                cpus=number(raw.get("cpus")) or 0,
                cpus_allocated=number(raw.get("alloc_cpus")) or 0,
                memory_mb=number(raw.get("real_memory")) or 0,
                partitions=[str(p) for p in raw.get("partitions") or []],
                reason=str(raw.get("reason") or ""),
            )
        )
    return sorted(result, key=lambda node: node.name)


def minutes(text: str) -> int | None:
    """``MaxTime`` as minutes: ``UNLIMITED``, ``30``, ``01:00:00``, ``7-00:00:00``."""
    if text.upper() in ("UNLIMITED", "INFINITE", "NONE", ""):
        return None
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not match:
        return None
    days, first, second, third = match.groups()
    if second is None:  # a bare number is minutes
        total = int(first)
    elif third is None:  # MM:SS
        total = int(first) + (1 if int(second) else 0)
    else:  # HH:MM:SS
        total = int(first) * 60 + int(second)
    return total + int(days or 0) * 24 * 60


def partitions(scontrol_oneliner: str, node_list: list[Node]) -> list[Partition]:
    """``scontrol -o show partition``: one ``Key=Value`` line per partition.

    Member nodes come from the nodes' own partition lists, so no hostlist
    expression (``node[1-2]``) needs expanding here.
    """
    result = []
    for line in scontrol_oneliner.splitlines():
        fields = dict(item.split("=", 1) for item in shlex.split(line, posix=False) if "=" in item)
        name = fields.get("PartitionName")
        if not name:
            continue
        members = [node for node in node_list if name in node.partitions]
        result.append(
            Partition(
                name=name,
                state=partition_state(fields.get("State", "")),
                nodes=[node.name for node in members],
                is_default=fields.get("Default", "NO").upper() == "YES",
                max_time_minutes=minutes(fields.get("MaxTime", "UNLIMITED")),
                total_cpus=int(fields.get("TotalCPUs", "0") or 0),
            )
        )
    return result


def job_id(raw: dict[str, Any]) -> str:
    """Array tasks are shown the way users type them: ``12_3``."""
    array_job = number(raw.get("array_job_id"))
    task = number(raw.get("array_task_id"))
    if array_job and task is not None:
        return f"{array_job}_{task}"
    if array_job and raw.get("array_task_string"):
        return f"{array_job}_[{raw['array_task_string']}]"
    return str(number(raw.get("job_id")) or raw.get("job_id"))


def exit_status(value: Any) -> int | None:
    """The script's exit code: Slurm 22.05 gives the wait status (code << 8), newer
    versions an object with ``return_code``."""
    if isinstance(value, dict):
        value = value.get("return_code", value.get("status"))
    code = number(value)
    if code is None:
        return None
    return code >> 8 if code > 255 else code


def output_path(raw: dict[str, Any], key: str) -> str:
    """Where the job writes, with Slurm's %j, %A, %a and %u filled in."""
    path = str(raw.get(key) or "")
    if not path:
        return ""
    if not path.startswith("/"):
        path = f"{raw.get('current_working_directory') or ''}/{path}"
    job = str(number(raw.get("job_id")) or "")
    array_job = str(number(raw.get("array_job_id")) or job)
    task = number(raw.get("array_task_id"))
    return (
        path.replace("%j", job)
        .replace("%A", array_job)
        .replace("%a", str(task) if task is not None else "")
        .replace("%u", str(raw.get("user_name") or ""))
    )


def jobs(squeue: dict[str, Any]) -> list[Job]:
    result = []
    for raw in squeue.get("jobs", []):
        result.append(
            Job(
                job_id=job_id(raw),
                name=str(raw.get("name") or ""),
                user=str(raw.get("user_name") or ""),
                account=str(raw.get("account") or ""),
                partition=str(raw.get("partition") or ""),
                state=job_state(words(raw.get("job_state"))),
                reason=str(raw.get("state_reason") or ""),
                nodes=str(raw.get("nodes") or ""),
                node_count=number(raw.get("node_count")) or 0,
                cpus=number(raw.get("cpus")) or 0,
                submitted_at=timestamp(raw.get("submit_time")),
                started_at=timestamp(raw.get("start_time")),
                time_limit_minutes=number(raw.get("time_limit")),
                ended_at=timestamp(raw.get("end_time")),
                exit_code=exit_status(raw.get("exit_code")),
                workdir=str(raw.get("current_working_directory") or ""),
                stdout=output_path(raw, "standard_output"),
                stderr=output_path(raw, "standard_error"),
            )
        )
    return result


def snapshot(sinfo: dict[str, Any], squeue: dict[str, Any], scontrol: str) -> ClusterSnapshot:
    node_list = nodes(sinfo)
    return ClusterSnapshot(
        taken_at=datetime.now(UTC),
        partitions=partitions(scontrol, node_list),
        nodes=node_list,
        jobs=jobs(squeue),
    )


ACCOUNTING_FIELDS = (
    "JobID",
    "JobName",
    "User",
    "Account",
    "Partition",
    "State",
    "ExitCode",
    "NodeList",
    "Submit",
    "Start",
    "End",
    "Timelimit",
    "WorkDir",
    "AllocCPUS",
)


def _when(text: str) -> datetime | None:
    if not text or text in ("Unknown", "None"):
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def accounting_job(line: str) -> Job | None:
    """One ``sacct --parsable2`` line (fields as ACCOUNTING_FIELDS) as a Job.

    Slurm 22.05's ``sacct --json`` reports exit code 0 for failed jobs, so the
    plain, long-stable parsable output is used instead.
    """
    values = line.split("|")
    if len(values) != len(ACCOUNTING_FIELDS):
        return None
    row = dict(zip(ACCOUNTING_FIELDS, values, strict=True))
    state_words = row["State"].split()
    reason = " ".join(state_words[1:])  # "CANCELLED by 2001"
    code = row["ExitCode"].split(":")[0]
    job_id = row["JobID"]
    workdir = row["WorkDir"]
    stem = f"slurm-{job_id}"  # the portal names output so (slurm-%j, slurm-%A_%a)
    return Job(
        job_id=job_id,
        name=row["JobName"],
        user=row["User"],
        account=row["Account"],
        partition=row["Partition"],
        state=job_state(state_words[:1]),
        reason=reason,
        nodes="" if row["NodeList"] in ("None assigned", "") else row["NodeList"],
        cpus=int(row["AllocCPUS"] or 0),
        submitted_at=_when(row["Submit"]),
        started_at=_when(row["Start"]),
        ended_at=_when(row["End"]),
        time_limit_minutes=minutes(row["Timelimit"]),
        exit_code=int(code) if code.isdigit() else None,
        workdir=workdir,
        stdout=f"{workdir}/{stem}.out" if workdir else "",
        stderr=f"{workdir}/{stem}.err" if workdir else "",
    )
