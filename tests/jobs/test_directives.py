"""#SBATCH lines into form fields (wrappers/jobs/directives.py): what is read, what
is left out and said so, and the portal's own lines dropped quietly."""

from __future__ import annotations

import pytest

from wrappers.jobs.directives import convert, slurm_megabytes, slurm_minutes


def test_common_options_become_fields_and_the_commands_stay() -> None:
    converted = convert(
        "#!/bin/bash\n"
        "#SBATCH --job-name=analysis\n"
        "#SBATCH -p debug\n"
        "#SBATCH --time=1:30:00\n"
        "#SBATCH -N 2 -n 4\n"
        "#SBATCH --cpus-per-task 2\n"
        "#SBATCH --mem=2G\n"
        "#SBATCH --array=1-10%2\n"
        "#SBATCH -D /home/alice/run\n"
        "# a plain comment stays\n"
        "module load python\n"
        "python3 run.py\n"
    )
    assert converted.fields == {
        "name": "analysis",
        "partition": "debug",
        "time_minutes": "90",
        "nodes": "2",
        "ntasks": "4",
        "cpus_per_task": "2",
        "memory_mb": "2048",
        "array": "1-10%2",
        "workdir": "/home/alice/run",
    }
    assert converted.script == (
        "#!/bin/bash\n# a plain comment stays\nmodule load python\npython3 run.py\n"
    )
    assert converted.notes == []
    assert converted.read == 9


def test_options_without_a_field_are_left_out_and_named() -> None:
    converted = convert(
        "#!/bin/bash\n#SBATCH --output=my.log\n#SBATCH --gres=gpu:1\n#SBATCH --time=forever\n"
        "echo hi\n#SBATCH --ntasks=3\n"
    )
    assert converted.fields == {}
    assert len(converted.notes) == 4
    assert "Line 2" in converted.notes[0] and "names the output files itself" in converted.notes[0]
    assert "Line 3" in converted.notes[1] and "no field" in converted.notes[1]
    assert "'forever'" in converted.notes[2]
    assert "after the first command" in converted.notes[3]
    assert "#SBATCH" not in converted.script.upper()


def test_the_portals_own_lines_go_quietly() -> None:
    converted = convert(
        "#!/bin/bash\n#SBATCH --job-name=hello\n#SBATCH --time=10\n"
        "#SBATCH --comment=onestop:123-abc\n#SBATCH --mail-type=END,FAIL\n"
        "#SBATCH --output=slurm-%j.out\n#SBATCH --error=slurm-%j.err\necho hi\n"
    )
    assert converted.fields == {"name": "hello", "time_minutes": "10"}
    assert converted.notes == []
    assert converted.script == "#!/bin/bash\necho hi\n"


@pytest.mark.parametrize(
    ("value", "minutes"),
    [("10", 10), ("5:30", 6), ("2:00:00", 120), ("1-0", 1440), ("1-2:30", 1590), ("0:20", 1)],
)
def test_slurm_times(value: str, minutes: int) -> None:
    assert slurm_minutes(value) == minutes


@pytest.mark.parametrize(
    ("value", "megabytes"), [("500", 500), ("500M", 500), ("4G", 4096), ("800K", 1), ("1gb", 1024)]
)
def test_slurm_memory(value: str, megabytes: int) -> None:
    assert slurm_megabytes(value) == megabytes


@pytest.mark.parametrize("text", ["", "\x00\x01", "#SBATCH '", "#!/bin/sh\n#SBATCH --x='unclosed"])
def test_anything_converts_without_raising(text: str) -> None:
    convert(text)
