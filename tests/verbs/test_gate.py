"""The gate: every verb is denied without its policy and allowed with it, audited
both ways; path spellings are canonical before policy sees them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.security.sessions import Identity
from app.tools import catalog_of, discover
from app.verbs import CORE_VERBS, VerbDenied, VerbFailed, VerbInvalid
from app.verbs.catalog import viewable
from managers.agent.client import AgentClient
from tests.helpers import built_in, local_gate, submit_as
from tests.verbs.conftest import Harness

# For each verb: arguments that make sense, and the least role that may use it, or
# the service principal that alone may (Tool.principals; called with call_as_service
# for alice). A verb added to the catalog without a line here fails
# test_every_verb_is_covered.
SAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "files.stat": ({"path": "/home/{who}"}, "user"),
    "files.list": ({"path": "/home/{who}"}, "user"),
    "files.read": ({"path": "/home/{who}/gate-sample.txt"}, "user"),
    "files.write": ({"path": "/home/{who}/gate-{n}.txt", "content": "x"}, "user"),
    "files.copy": (
        {"path": "/home/{who}/gate-sample.txt", "destination": "/home/{who}/gate-{n}.txt"},
        "user",
    ),
    # The file manager (wrappers/files/verbs/manage.py); samples that change nothing of
    # note or make only gate-*.txt files, which the walk removes.
    "files.page": ({"path": "/home/{who}", "limit": 5}, "user"),
    "files.mkdir": ({"path": "/home/{who}"}, "user"),
    "files.create": ({"path": "/home/{who}/gate-{n}.txt"}, "user"),
    "files.move": (
        {"path": "/home/{who}/gate-none-{n}.txt", "destination": "/home/{who}/gate-{n}.txt"},
        "user",
    ),
    "files.trash": ({"path": "/home/{who}/gate-none.txt"}, "user"),
    "files.trash_list": ({}, "user"),
    "files.restore": ({"path": "/home/{who}/gate-sample.txt"}, "user"),
    "files.purge": ({"path": "/home/{who}/gate-sample.txt"}, "user"),
    "files.trash_empty": ({}, "user"),
    "files.save": ({"path": "/home/{who}/gate-{n}.txt", "content": "x"}, "user"),
    "files.usage": ({"path": "/home/{who}/gate-sample.txt", "seconds": 0.2}, "user"),
    "files.watch": ({"path": "/home/{who}/gate-sample.txt", "seconds": 0.2}, "user"),
    "files.permissions": ({"path": "/home/{who}"}, "user"),
    "files.chmod": ({"path": "/home/{who}/gate-sample.txt", "mode": 0o640}, "user"),
    # Shares leave ACL entries behind on her home, so the sample names nobody real.
    "files.share": (
        {"path": "/home/{who}/gate-sample.txt", "grantee_kind": "user", "grantee": "nobody9"},
        "user",
    ),
    "files.unshare": ({"share_id": 999999}, "user"),
    "files.shares": ({}, "user"),
    "files.publish": ({"path": "/home/{who}/gate-sample.txt"}, "user"),
    "files.unpublish": ({"link_id": 999999}, "user"),
    # What a public link opens, by the link page's principal for the link's owner.
    "files.public_open": ({"root": "/home/{who}/gate-sample.txt"}, "service:public-links"),
    "files.public_list": ({"root": "/home/{who}/gate-sample.txt"}, "service:public-links"),
    # Transfers (wrappers/files/verbs/transfer.py): the upload samples find nothing to work
    # on or a taken name, so no hidden part file is left behind.
    "files.upload_start": (
        {
            "path": "/home/{who}",
            "name": "gate-sample.txt",
            "token": "0" * 32,
            "length": 1,
            "conflict": "fail",
        },
        "user",
    ),
    "files.upload_open": ({"path": "/home/{who}", "name": "x", "token": "0" * 32}, "user"),
    "files.upload_finish": (
        {"path": "/home/{who}", "name": "x", "token": "0" * 32, "length": 1},
        "user",
    ),
    "files.upload_cancel": ({"path": "/home/{who}", "name": "x", "token": "0" * 32}, "user"),
    "files.zip": ({"path": "/home/{who}", "names": ["gate-sample.txt"]}, "user"),
    "jobs.submit": ({"script": "#!/bin/bash\nsleep 20\n", "name": "gate"}, "user"),
    "jobs.cancel": ({"job_id": "{job}"}, "user"),
    "jobs.hold": ({"job_id": "{job}"}, "user"),
    "jobs.show": ({"job_id": "{job}"}, "user"),
    "jobs.history": ({"user": "{who}"}, "user"),
    "jobs.project": ({"project": "chem"}, "staff"),
    "jobs.release": ({"job_id": "{job}"}, "user"),
    "jobs.script": ({"job_id": "{job}"}, "user"),
    "templates.list": ({}, "user"),
    # An unknown number is named as the asker's own: allowed, then "no such template".
    "templates.show": ({"template_id": 999999}, "user"),
    "templates.save": ({"title": "gate {n}", "script": "#!/bin/bash\ntrue\n"}, "user"),
    "templates.delete": ({"template_id": 999999}, "user"),
    "cluster.snapshot": ({}, "user"),
    # Notebook sessions (wrappers/notebooks/verbs.py): the start sample names a folder that
    # does not exist, so her agent refuses it before any job is submitted.
    "notebooks.start": ({"folder": "/home/{who}/gate-none-{n}", "time_minutes": 5}, "user"),
    "notebooks.list": ({}, "user"),
    "notebooks.show": ({"session_id": "0123456789abcdef"}, "user"),
    "notebooks.stop": ({"session_id": "0123456789abcdef"}, "user"),
    # The monitor's warning of a session's end, for its owner; no such session here.
    "notebooks.warn": ({"session_id": "0123456789abcdef"}, "service:notebooks-monitor"),
    # Data transfers (wrappers/data): no such transfer or connection here, and an
    # import whose only address the site refuses (a file:// one) starts nothing.
    "data.import": ({"source": "url", "urls": "file:///etc/passwd"}, "user"),
    "data.export": (
        {"destination": "s3", "source_path": "/home/{who}/gate-none-{n}", "bucket": "b"},
        "user",
    ),
    "data.list": ({}, "user"),
    "data.show": ({"transfer_id": "0123456789abcdef"}, "user"),
    "data.cancel": ({"transfer_id": "0123456789abcdef"}, "user"),
    "data.retry": ({"transfer_id": "0123456789abcdef"}, "user"),
    "data.forget": ({"transfer_id": "0123456789abcdef"}, "user"),
    "data.follow": ({}, "service:data-monitor"),
    "data.connections.list": ({}, "user"),
    "data.connections.save": ({"kind": "s3", "name": "gate", "bucket": "x"}, "user"),
    "data.connections.delete": ({"connection_id": "0123456789abcdef"}, "user"),
    "data.browse": ({"kind": "s3", "connection_id": "0123456789abcdef"}, "user"),
    "data.accept_host_key": (
        {"key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "connection_id": "0123456789abcdef"},
        "user",
    ),
    "help.ask": ({"text": "The gate's sample question."}, "user"),
    "help.mine": ({}, "user"),
    "help.show": ({"ticket_id": "0123456789abcdef"}, "user"),
    "help.reply": ({"ticket_id": "0123456789abcdef", "text": "sample"}, "user"),
    "help.note": ({"ticket_id": "0123456789abcdef", "text": "sample"}, "staff"),
    "help.assign": ({"ticket_id": "0123456789abcdef"}, "staff"),
    "help.state": ({"ticket_id": "0123456789abcdef", "state": "solved"}, "user"),
    "help.consent": ({"ticket_id": "0123456789abcdef", "consent": True}, "user"),
    "help.view": ({"ticket_id": "0123456789abcdef", "page": "/"}, "staff"),
    "help.attachment": ({"ticket_id": "0123456789abcdef", "index": 0}, "user"),
    "help.screenshot": ({"ticket_id": "0123456789abcdef", "data": b"\x89PNG\r\n\x1a\n"}, "user"),
    "help.image": ({"ticket_id": "0123456789abcdef", "image_id": 1}, "user"),
    "help.mail_reply": (
        {"token": "0" * 32, "sender": "desk@onestop.test", "text": "sample"},
        "service:help-mail",
    ),
    "help.queue": ({}, "staff"),
    "help.canned": ({}, "staff"),
    "notifications.list": ({"user": "{who}"}, "user"),
    "notifications.open": ({"id": 1}, "user"),
    "notifications.mark_seen": ({}, "user"),
    "sessions.list": ({}, "staff"),
    "sessions.revoke": ({"user": "nobody"}, "admin"),
    "policy.list": ({}, "staff"),
    "policy.grant": ({"subject": "nobody", "role": "staff"}, "admin"),
    "policy.revoke": ({"subject": "nobody", "role": "staff"}, "admin"),
}
PEOPLE = {"user": "alice", "staff": "carol", "admin": "erin"}


def test_every_verb_is_covered() -> None:
    catalog = catalog_of(CORE_VERBS, built_in(discover()))
    assert set(catalog) == set(SAMPLES), "add the new verb (and its policy) to SAMPLES"


def fill(args: dict[str, Any], who: str, job: str, n: int) -> dict[str, Any]:
    return {
        key: value.format(who=who, job=job, n=n) if isinstance(value, str) else value
        for key, value in args.items()
    }


async def test_the_catalog_walk(harness: Harness) -> None:
    job = submit_as("alice", "--wrap", "sleep 60")
    sample = "/home/alice/gate-sample.txt"
    with open(sample, "w") as handle:
        handle.write("sample")
    os.chown(sample, 2001, 2001)
    try:
        for n, (name, (args, role)) in enumerate(sorted(SAMPLES.items())):
            # Someone with no role at all: denied before anything happens, and audited.
            stranger = harness.person("mallory", recent=True)
            with pytest.raises(VerbDenied):
                await harness.gate.call(stranger, name, **fill(args, "alice", job, n))
            assert ("mallory", "denied") in {(a, o) for a, _, o in await harness.audit(name)}
            # Someone with the role: not denied (the work itself may still fail).
            if role.startswith("service:"):
                # The other services, without this verb's rule, are denied like strangers.
                for other in sorted(harness.gate.catalog.principals - {role}):
                    with pytest.raises(VerbDenied):
                        await harness.gate.call_as_service(
                            other, "alice", name, **fill(args, "alice", job, n)
                        )
                    audited = {(a, o) for a, _, o in await harness.audit(name)}
                    assert (other, "denied") in audited
                call = harness.gate.call_as_service(
                    role, "alice", name, **fill(args, "alice", job, n)
                )
                actor = role
            else:
                person = harness.person(PEOPLE[role], recent=True)
                who = "alice" if role == "user" else PEOPLE[role]
                call = harness.gate.call(person, name, **fill(args, who, job, n))
                actor = PEOPLE[role]
            try:
                result = await call
            except (VerbFailed, VerbInvalid):  # the work failed, in plain words: audited
                result = None
            if hasattr(result, "fd"):
                os.close(result.fd)
            outcomes = {o for a, _, o in await harness.audit(name) if a == actor}
            assert outcomes & {"ok", "failed"}, (name, outcomes)
            if role != "user":  # and a plain user may not use it
                with pytest.raises(VerbDenied):
                    await harness.gate.call(
                        harness.person("bob", recent=True), name, **fill(args, "bob", job, n)
                    )
    finally:
        subprocess.run(["scancel", job], check=False)
        os.unlink(sample)
        for leftover in Path("/home/alice").glob("gate-*.txt"):
            leftover.unlink()  # files only: a folder here would mean a wrong copy


async def test_a_view_of_her_portal_can_do_nothing_but_look(harness: Harness) -> None:
    """carol (staff) seeing what alice sees: every verb that is not a viewing one is
    refused before policy or her agent is asked, audited with carol as the actor; the
    viewing ones go through as alice, still audited as carol's."""
    job = submit_as("alice", "--wrap", "sleep 60")
    seen = replace(harness.person("alice", recent=True), viewed_by="carol")
    mine = Path("/home/alice/gate-view.txt")
    mine.write_text("hers")
    os.chown(mine, 2001, 2001)
    try:
        writes = 0
        for n, (name, (args, _)) in enumerate(sorted(SAMPLES.items())):
            verb = harness.gate.catalog[name]
            if viewable(verb):
                continue
            writes += 1
            with pytest.raises(VerbDenied) as refused:
                await harness.gate.call(seen, name, **fill(args, "alice", job, n))
            assert refused.value.detail == "view-only", name
            assert "read-only view of alice" in refused.value.message
            assert ("carol", "denied") in {(a, o) for a, _, o in await harness.audit(name)}
            assert not await harness.gate.allowed(seen, name, **fill(args, "alice", job, n))
        # Every write, share, submit, cancel, import and publish is among them.
        for must in (
            "files.write",
            "files.share",
            "files.publish",
            "jobs.submit",
            "jobs.cancel",
            "data.import",
            "notebooks.start",
            "help.reply",
            "files.read",
        ):
            assert not viewable(harness.gate.catalog[must]), must
        assert writes > 40
        listed = await harness.gate.call(seen, "files.list", path="/home/alice")
        assert "gate-view.txt" in {entry.name for entry in listed.entries()}
        rows = await harness.audit("files.list")
        assert ("carol", "/home/alice", "ok") in {(a, o.split(":", 1)[-1], r) for a, o, r in rows}
        # The job list she sees is hers (the verb ran as alice).
        shown = await harness.gate.call(seen, "jobs.show", job_id=job)
        assert shown.job.job_id == job and shown.job.user == "alice"
    finally:
        subprocess.run(["scancel", job], check=False)
        mine.unlink()


async def test_a_user_may_not_cancel_someone_elses_job(harness: Harness) -> None:
    job = submit_as("alice", "--wrap", "sleep 60")
    try:
        with pytest.raises(VerbDenied):
            await harness.gate.call(harness.person("bob"), "jobs.cancel", job_id=job)
        assert ("bob", f"job:alice/{job}", "denied") in await harness.audit("jobs.cancel")
    finally:
        subprocess.run(["scancel", job], check=False)


async def test_admin_verbs_need_a_recent_sign_in(harness: Harness) -> None:
    with pytest.raises(VerbDenied) as refused:
        await harness.gate.call(harness.person("erin"), "policy.grant", subject="bob", role="staff")
    assert refused.value.detail == "reauth"
    assert ("erin", "policy:roles", "reauth-needed") in await harness.audit("policy.grant")


@pytest.mark.parametrize(
    "spelling",
    [
        "/home/bob/../alice/secret-g.txt",
        "//home//alice//secret-g.txt",
        "/home/./alice/secret-g.txt",
    ],
)
async def test_paths_are_canonical_before_policy_and_kernel(
    harness: Harness, spelling: str
) -> None:
    secret = "/home/alice/secret-g.txt"
    with open(secret, "w") as handle:
        handle.write("no")
    os.chown(secret, 2001, 2001)
    os.chmod(secret, 0o600)
    try:
        with pytest.raises(VerbFailed) as refused:
            await harness.gate.call(harness.person("bob"), "files.read", path=spelling)
        assert refused.value.detail == "EACCES"
        audited = await harness.audit("files.read")
        assert ("bob", "file:/home/alice/secret-g.txt", "failed") in audited
    finally:
        os.unlink(secret)


@pytest.mark.parametrize("path", ["relative/path", "/home/alice/\x00x", "/home\\alice", "x" * 5000])
async def test_impossible_paths_are_refused_in_plain_words(harness: Harness, path: str) -> None:
    with pytest.raises(VerbInvalid) as refused:
        await harness.gate.call(harness.person("alice"), "files.stat", path=path)
    assert refused.value.message and "Traceback" not in refused.value.message


async def test_bad_arguments_are_explained(harness: Harness) -> None:
    with pytest.raises(VerbInvalid, match="script"):
        await harness.gate.call(
            harness.person("alice"), "jobs.submit", script="#!/bin/sh\n#SBATCH --uid=0\n"
        )
    with pytest.raises(VerbInvalid, match="no operation"):
        await harness.gate.call(harness.person("alice"), "files.delete_everything")


async def test_a_heavy_copy_can_run_on_a_compute_node(harness: Harness) -> None:
    source, target = Path("/home/alice/heavy-src.txt"), Path("/home/alice/heavy-copy.txt")
    source.write_text("big data")
    os.chown(source, 2001, 2001)
    target.unlink(missing_ok=True)
    harness.gate.heavy_partition = "debug"
    try:
        entry = await harness.gate.call(
            harness.person("alice"), "files.copy", path=str(source), destination=str(target)
        )
        assert target.read_text() == "big data" and entry.uid == 2001
        # Accounting hears of the step a moment after it ends (slurmdbd is asynchronous).
        deadline = time.monotonic() + 15
        while True:
            steps = subprocess.run(
                [
                    "sacct",
                    "--noheader",
                    "--parsable2",
                    "--user=alice",
                    "--name=onestop-files.copy",
                    "--format=JobName,State",
                    "--starttime=now-10minutes",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if "onestop-files.copy|COMPLETED" in steps or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert "onestop-files.copy|COMPLETED" in steps
    finally:
        source.unlink(missing_ok=True)
        target.unlink(missing_ok=True)


async def test_a_folder_is_never_copied_into_itself(harness: Harness) -> None:
    with pytest.raises(VerbFailed, match="into itself"):
        await harness.gate.call(
            harness.person("alice"),
            "files.copy",
            path="/home/alice",
            destination="/home/alice/inside",
        )
    assert not Path("/home/alice/inside").exists()


async def test_a_project_admin_acts_on_their_projects_jobs_only(harness: Harness) -> None:
    policy = harness.gate.services.policy
    await policy.grant("bob", "project-admin", "chem")
    job = submit_as("alice", "--account=chem", "--wrap", "sleep 60")
    try:
        # carol is a plain user: alice's job is not hers, and the message names no one.
        with pytest.raises(VerbDenied) as refused:
            await harness.gate.call(harness.person("carol"), "jobs.cancel", job_id=job)
        assert "alice" not in refused.value.message
        # bob administers chem: policy lets him through (Slurm itself then decides,
        # which needs him to be a coordinator of the chem account).
        try:
            await harness.gate.call(harness.person("bob"), "jobs.cancel", job_id=job)
        except VerbFailed:
            pass
        audited = await harness.audit("jobs.cancel")
        assert ("bob", f"job:alice/{job}", "denied") not in audited
        assert ("carol", f"job:alice/{job}", "denied") in audited
    finally:
        subprocess.run(["scancel", job], check=False)
        await policy.revoke("bob", "project-admin", "chem")


async def test_a_disabled_tools_verbs_are_unknown_to_the_gate(
    sqlite_url: str, agents: AgentClient
) -> None:
    """The catalog walk without the notebooks tool: every other verb is still there,
    and each of its verbs is refused as unknown before policy or an agent is asked."""
    built = await local_gate(sqlite_url, agents, disabled=("notebooks",))
    try:
        gone = {name for name in SAMPLES if name.startswith("notebooks.")}
        assert gone, "the walk must cover the notebooks tool's verbs"
        assert set(built.gate.catalog) == set(SAMPLES) - gone
        alice = Identity(0, "alice", "Alice", "", int(time.time()))
        await built.services.policy.sync_derived_roles("alice", projects=["chem"], is_admin=False)
        for name in sorted(gone):
            with pytest.raises(VerbInvalid, match="no operation called") as refused:
                await built.gate.call(alice, name, **fill(SAMPLES[name][0], "alice", "0", 0))
            assert refused.value.detail == "unknown-verb"
        # Its rules are not given to a site that never enabled it.
        rules = await built.services.policy.rules()
        assert not [rule for rule in rules if "notebook:" in ",".join(rule)]
    finally:
        await built.close()
