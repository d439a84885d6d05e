"""The one runner of Slurm commands and the commands that change jobs: bin_dir, argument
lists and standard input, the scheduler's refusals in its own words, idempotent
cancel, hold and release, and the same layer as the portal runs it and as an agent
does (on small stand-in commands, then on the real demo cluster)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from managers.errors import OperationError
from managers.execution import operations
from managers.execution.script import JobRequest
from managers.scheduler import SchedulerError
from managers.scheduler.slurm import SlurmAdapter, batch, commands
from tests.helpers import submit_as


def command(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def agent_in(tmp_path: Path) -> Iterator[Path]:
    """An agent whose slurm.bin_dir is ``tmp_path`` (as its launcher would set it)."""
    before = commands.agent_bin_dir()
    commands.set_agent_bin_dir(str(tmp_path))
    yield tmp_path
    commands.set_agent_bin_dir(before)


@pytest.mark.parametrize("bin_dir", ["", "bin", "opt/slurm/bin", "./bin"])
def test_a_bin_dir_that_is_not_absolute_is_refused_in_words(bin_dir: str) -> None:
    from pydantic import ValidationError

    from app.settings import load_settings
    from managers.agent.launcher import LaunchRefused, launch

    with pytest.raises(ValueError, match="must be the absolute path"):
        SlurmAdapter(bin_dir=bin_dir)
    with pytest.raises(ValueError, match="such as /usr/bin or /opt/slurm/bin"):
        commands.set_agent_bin_dir(bin_dir)
    with pytest.raises(ValidationError, match=r"slurm\.bin_dir must be the absolute path"):
        load_settings(slurm={"bin_dir": bin_dir})
    with pytest.raises(LaunchRefused, match="absolute path"):
        launch(
            "alice",
            runtime_dir="/nonexistent",
            log_dir="/nonexistent",
            min_uid=1000,
            name_pattern=".*",
            idle_seconds=1,
            nice=0,
            memory_limit_mb=100,
            heavy_limit=1,
            slurm_bin_dir=bin_dir,
        )


def test_only_slurm_commands_from_bin_dir_are_run() -> None:
    assert commands.program("/opt/slurm/bin", "sbatch") == "/opt/slurm/bin/sbatch"
    with pytest.raises(ValueError, match="not one of the Slurm commands"):
        commands.program("/usr/bin", "rm")
    with pytest.raises(ValueError, match="not one of the Slurm commands"):
        commands.run_sync("/usr/bin", ["/usr/bin/sbatch"], 5)


def test_a_job_finds_the_sites_slurm_on_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """sbatch hands its environment to the job: a script calling srun finds it."""
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    assert commands.clean_environment("/opt/slurm/bin")["PATH"].split(":")[0] == "/opt/slurm/bin"
    assert commands.clean_environment("/usr/bin")["PATH"] == "/usr/local/bin:/usr/bin:/bin"


def test_the_adapter_and_the_agent_submit_through_the_same_layer(
    agent_in: Path,
) -> None:
    """The script goes to sbatch on standard input, from bin_dir, in the portal (the
    adapter) as in an agent (the jobs tool's operation)."""
    command(
        agent_in, "sbatch", f'echo "$@" > {agent_in}/argv\ncat > {agent_in}/stdin\necho "42;demo"\n'
    )
    adapter = SlurmAdapter(bin_dir=str(agent_in))
    job = asyncio.run(adapter.submit(JobRequest(script="#!/bin/bash\ntrue\n", name="first")))
    assert job == "42"
    assert (agent_in / "argv").read_text().split() == ["--parsable"]
    assert "#SBATCH --job-name=first" in (agent_in / "stdin").read_text()

    done = operations.submit("#!/bin/bash\ntrue\n", name="second", workdir="")
    assert done == {"job_id": "42", "reused": False}
    assert "#SBATCH --job-name=second" in (agent_in / "stdin").read_text()


def test_an_unreadable_answer_is_said_so(agent_in: Path) -> None:
    command(agent_in, "sbatch", "cat > /dev/null\necho 'Submitted batch job 7'\n")
    with pytest.raises(SchedulerError, match="cannot read") as error:
        asyncio.run(SlurmAdapter(bin_dir=str(agent_in)).submit(JobRequest(script="true\n")))
    assert error.value.kind == "unreadable"
    with pytest.raises(OperationError, match="cannot read") as refused:
        operations.submit("true\n")
    assert refused.value.kind == "failed"


def test_a_request_that_cannot_be_a_script_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(SchedulerError, match="#SBATCH") as error:
        asyncio.run(
            SlurmAdapter(bin_dir=str(tmp_path)).submit(
                JobRequest(script="#!/bin/bash\n#SBATCH --mem=1T\n")
            )
        )
    assert error.value.kind == "invalid"


def test_a_refusal_carries_the_schedulers_own_words(agent_in: Path) -> None:
    command(
        agent_in,
        "sbatch",
        "cat > /dev/null\n"
        "echo 'sbatch: error: Batch job submission failed: Invalid account' >&2\nexit 1\n",
    )
    command(
        agent_in,
        "scontrol",
        "echo 'Access/permission denied for job 5' >&2\n"
        "echo 'slurm_suspend error: Access/permission denied' >&2\nexit 1\n",
    )
    adapter = SlurmAdapter(bin_dir=str(agent_in))
    with pytest.raises(SchedulerError) as error:
        asyncio.run(adapter.hold("5"))
    assert error.value.kind == "refused"
    assert error.value.refusal == "slurm_suspend error: Access/permission denied"
    with pytest.raises(OperationError) as refused:
        operations.submit("#!/bin/bash\ntrue\n")
    assert refused.value.message == (
        "The scheduler refused: Batch job submission failed: Invalid account"
    )
    assert refused.value.kind == "failed"
    with pytest.raises(OperationError, match="Access/permission denied"):
        operations.hold("5")


def test_a_job_slurm_has_forgotten_is_cancelled_held_and_released_enough(
    agent_in: Path,
) -> None:
    """As in ood_core: "Invalid job id specified" leaves nothing to do."""
    for name in ("scancel", "scontrol"):
        command(
            agent_in,
            name,
            "echo 'Invalid job id specified for job 5' >&2\n"
            "echo 'slurm_suspend error: Invalid job id specified' >&2\nexit 1\n",
        )
    adapter = SlurmAdapter(bin_dir=str(agent_in))
    for act in (adapter.cancel, adapter.hold, adapter.release):
        asyncio.run(act("5"))
    assert operations.cancel("5") == {"job_id": "5"}
    assert operations.hold("5") == {"job_id": "5"}
    with pytest.raises(SchedulerError, match="not a job number"):
        asyncio.run(adapter.cancel("--all"))
    with pytest.raises(OperationError, match="not a job number"):
        operations.cancel("--all")


def test_a_script_slurm_will_not_give_is_none(agent_in: Path) -> None:
    command(agent_in, "scontrol", "exit 0\n")
    adapter = SlurmAdapter(bin_dir=str(agent_in))
    assert asyncio.run(adapter.script("5")) is None
    assert operations.batch_script("5") == {"job_id": "5", "available": False, "script": ""}
    command(agent_in, "scontrol", 'echo "#!/bin/bash"\necho "sleep 1"\n')
    assert asyncio.run(adapter.script("5")) == "#!/bin/bash\nsleep 1\n"
    assert operations.batch_script("5")["available"]


def test_silence_and_missing_commands_read_as_unavailable(agent_in: Path) -> None:
    command(agent_in, "squeue", "exec sleep 10\n")
    with pytest.raises(SchedulerError, match="not answering") as slow:
        asyncio.run(commands.run(str(agent_in), ["squeue"], 0.3))
    assert slow.value.kind == "unavailable"
    with pytest.raises(SchedulerError, match="not answering"):
        commands.run_sync(str(agent_in), ["squeue"], 0.3)
    with pytest.raises(SchedulerError, match="cannot be run here") as missing:
        asyncio.run(commands.run(str(agent_in), ["sinfo"], 5))
    assert missing.value.kind == "unavailable"
    with pytest.raises(OperationError, match="not answering") as gone:
        operations.cancel("5")  # no scancel in the folder
    assert gone.value.kind == "unavailable"


def test_writes_on_the_demo_cluster_are_idempotent(cluster: None) -> None:
    """The portal's own account (root here, a Slurm operator) holds, releases and
    cancels alice's waiting job; each twice, and once more when it is gone."""
    job = submit_as("alice", "--begin=now+1hour", "--wrap", "sleep 1")
    adapter = SlurmAdapter()

    def reason() -> str:
        return subprocess.run(
            ["squeue", "--noheader", "--format=%r", "--jobs", job],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    async def scenario() -> None:
        assert "sleep 1" in (await adapter.script(job) or "")
        for _ in range(2):
            await adapter.hold(job)
        assert reason() == "JobHeldAdmin"
        for _ in range(2):
            await adapter.release(job)
        assert reason() != "JobHeldAdmin"
        for _ in range(2):
            await adapter.cancel(job)
        await adapter.cancel("99999999")  # never existed, or long forgotten
        await adapter.hold("99999999")

    try:
        asyncio.run(scenario())
    finally:
        subprocess.run(["scancel", job], check=False)
    assert batch.JOB_ID.fullmatch(job)
