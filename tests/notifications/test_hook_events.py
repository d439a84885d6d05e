"""The portal's side of the Slurm hook: following the spool file, whatever the hook
does to it, and the hook itself as the demo cluster installs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from app.logs import get_logger
from managers.hook_events import HookEvents


async def test_new_lines_poke_and_a_truncated_or_new_file_is_read_from_the_top(
    tmp_path: Path,
) -> None:
    spool = tmp_path / "events"
    spool.write_text("1.0 end 1\n")  # from before the portal started: old news
    pokes: list[int] = []
    follower = HookEvents(str(spool), lambda: pokes.append(1), get_logger("tests.hook"))
    follower._skip_to_end()
    assert follower.read_new_lines() == [] and not pokes
    with spool.open("a") as out:
        out.write("2.0 start 2\n2.1 end")  # the second line is still being written
    assert follower.read_new_lines() == ["2.0 start 2"]
    with spool.open("a") as out:
        out.write(" 2\n")
    assert follower.read_new_lines() == ["2.1 end 2"]
    spool.write_text("3.0 start 3\n")  # the hook emptied it (it grew too long)
    assert follower.read_new_lines() == ["3.0 start 3"]
    spool.unlink()
    assert follower.read_new_lines() == []
    spool.write_text("4.0 end 4\n")  # someone recreated it
    assert follower.read_new_lines() == ["4.0 end 4"]
    assert len(pokes) == 4


def test_the_installed_hook_appends_a_line_keeps_the_file_small_and_always_exits_0(
    cluster: None,
) -> None:
    hook = Path("/etc/slurm/onestop-hook")
    conf = Path("/etc/slurm/slurm.conf").read_text()
    assert f"PrologSlurmctld={hook}" in conf and f"EpilogSlurmctld={hook}" in conf
    # A private copy pointed at a temporary file, run as SlurmUser like slurmctld does.
    folder = Path(tempfile.mkdtemp(prefix="onestop-hook-"))  # under /tmp: slurm may enter
    folder.chmod(0o755)
    events = folder / "events"
    copy = folder / "hook"
    copy.write_text(
        hook.read_text()
        .replace("EVENTS=/run/onestop-slurm/events", f"EVENTS={events}")
        .replace("LIMIT=65536", "LIMIT=100")
    )
    copy.chmod(0o755)
    events.touch()
    os.chown(events, *_slurm_ids())

    def run(context: str, job: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "SLURM_SCRIPT_CONTEXT": context, "SLURM_JOB_ID": job}
        return subprocess.run(
            ["/usr/sbin/runuser", "-u", "slurm", "--", str(copy)],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )

    try:
        assert run("prolog_slurmctld", "41").returncode == 0
        assert run("epilog_slurmctld", "41").returncode == 0
        lines = events.read_text().splitlines()
        assert [line.split()[1:] for line in lines] == [["start", "41"], ["end", "41"]]
        for n in range(10):
            run("epilog_slurmctld", str(n))
        assert events.stat().st_size < 200, "the hook lets the file grow"
        events.unlink()  # and the folder is root's: the hook cannot create the file now
        done = run("epilog_slurmctld", "42")
        assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    finally:
        shutil.rmtree(folder)


def _slurm_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("slurm")
    return entry.pw_uid, entry.pw_gid


def test_devcluster_reconfigures_for_the_hook_lines_and_restarts_for_anything_else() -> None:
    from devcluster.render import reconfigurable, slurm_conf_text

    new = slurm_conf_text()
    without_hooks = "\n".join(line for line in new.splitlines() if "Slurmctld=" not in line)
    assert reconfigurable(without_hooks, new)
    assert not reconfigurable(new.replace("SlurmctldPort=6817", "SlurmctldPort=7817"), new)
    assert not reconfigurable(None, new)
