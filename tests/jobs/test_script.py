"""The generated batch script says exactly what the form said, and nothing more."""

from __future__ import annotations

import pytest

from managers.errors import OperationError
from managers.execution.script import JobRequest, build, parse_directives


def test_fields_become_one_directive_each() -> None:
    script = build(
        JobRequest(
            script="#!/bin/bash\necho hello\n",
            name="my-run",
            partition="debug",
            nodes=2,
            ntasks=2,
            cpus_per_task=1,
            memory_mb=500,
            time_minutes=5,
            workdir="/home/alice/project",
            array="1-4%2",
            comment="onestop:tok",
        )
    )
    assert script.startswith("#!/bin/bash\n")
    assert parse_directives(script) == [
        ("--job-name", "my-run"),
        ("--partition", "debug"),
        ("--nodes", "2"),
        ("--ntasks", "2"),
        ("--cpus-per-task", "1"),
        ("--mem", "500M"),
        ("--time", "5"),
        ("--chdir", "/home/alice/project"),
        ("--array", "1-4%2"),
        ("--comment", "onestop:tok"),
        ("--output", "slurm-%A_%a.out"),
        ("--error", "slurm-%A_%a.err"),
    ]
    assert script.rstrip().endswith("echo hello")


@pytest.mark.parametrize(
    "name",
    ["x\n#SBATCH --uid=0", "a b", "$(reboot)", "x;rm", "`id`", "a\rb", "a#b"],
)
def test_no_field_can_smuggle_an_option_or_a_command(name: str) -> None:
    with pytest.raises(OperationError):
        build(JobRequest(script="#!/bin/bash\ntrue\n", name=name))


def test_a_directive_in_the_body_is_refused_not_ignored() -> None:
    with pytest.raises(OperationError, match="#SBATCH"):
        build(JobRequest(script="#!/bin/bash\n#SBATCH --uid=0\ntrue\n"))


def test_a_body_without_interpreter_gets_bash() -> None:
    script = build(JobRequest(script="echo hi", name="x"))
    assert script.split("\n")[:3] == [
        "#!/bin/bash",
        "#SBATCH --job-name=x",
        "#SBATCH --output=slurm-%j.out",
    ]
