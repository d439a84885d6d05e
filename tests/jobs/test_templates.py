"""Job templates through the real gate: who may read, change and delete personal,
project and site templates, bad input explained, and a job's script read back."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from app.verbs import VerbDenied, VerbFailed, VerbInvalid
from tests.helpers import submit_as
from tests.verbs.conftest import Harness
from wrappers.jobs.template_store import EXAMPLES, TemplateStore

SCRIPT = "#!/bin/bash\necho hello from $(hostname)\n"


async def save(harness: Harness, who: str, **fields: Any) -> Any:
    arguments = {"title": "Analysis", "script": SCRIPT, **fields}
    return await harness.gate.call(harness.person(who, recent=True), "templates.save", **arguments)


async def titles(harness: Harness, who: str) -> set[str]:
    listed = await harness.gate.call(harness.person(who), "templates.list")
    return {view.title for view in listed.templates}


async def test_alice_creates_edits_copies_and_deletes_her_template(harness: Harness) -> None:
    made = await save(
        harness,
        "alice",
        title="Weekly run",
        description="Runs the weekly numbers",
        name="weekly",
        time_minutes=20,
        ntasks=2,
        workdir="/home/alice",
    )
    assert (made.scope, made.owner, made.can_write, made.can_delete) == (
        "personal",
        "alice",
        True,
        True,
    )
    assert made.fields["time_minutes"] == 20 and made.fields["ntasks"] == 2
    assert "mail_on_end" not in made.fields

    edited = await save(
        harness, "alice", template_id=made.id, title="Weekly run v2", script="#!/bin/bash\ndate\n"
    )
    assert edited.id == made.id and edited.title == "Weekly run v2"
    shown = await harness.gate.call(harness.person("alice"), "templates.show", template_id=made.id)
    assert shown.script == "#!/bin/bash\ndate\n"

    # A copy is a save of what was shown, under a new name, as a new template.
    copy = await save(
        harness,
        "alice",
        title=f"Copy of {shown.title}",
        script=shown.script,
        **{key: value for key, value in shown.fields.items()},
    )
    assert copy.id != made.id
    assert {"Weekly run v2", "Copy of Weekly run v2"} <= await titles(harness, "alice")

    await harness.gate.call(harness.person("alice"), "templates.delete", template_id=made.id)
    with pytest.raises(VerbFailed, match="no such template"):
        await harness.gate.call(harness.person("alice"), "templates.show", template_id=made.id)
    assert "Weekly run v2" not in await titles(harness, "alice")
    audited = await harness.audit("templates.delete")
    assert ("alice", f"template:personal/alice/{made.id}", "ok") in audited


async def test_bob_can_neither_see_nor_touch_alices_own_template(harness: Harness) -> None:
    made = await save(harness, "alice", title="Private")
    bob = harness.person("bob", recent=True)
    with pytest.raises(VerbDenied):
        await harness.gate.call(bob, "templates.show", template_id=made.id)
    with pytest.raises(VerbDenied):
        await harness.gate.call(bob, "templates.delete", template_id=made.id)
    with pytest.raises(VerbDenied):
        await harness.gate.call(
            bob, "templates.save", template_id=made.id, title="Mine now", script=SCRIPT
        )
    assert "Private" not in await titles(harness, "bob")
    kept = await harness.gate.call(harness.person("alice"), "templates.show", template_id=made.id)
    assert kept.title == "Private"
    assert ("bob", f"template:personal/alice/{made.id}", "denied") in await harness.audit(
        "templates.delete"
    )


async def test_a_project_template_is_shared_with_its_members_only(harness: Harness) -> None:
    made = await save(harness, "alice", title="Chem pipeline", scope="project", project="chem")
    assert (made.scope, made.project) == ("project", "chem")
    # bob is in chem: he reads it, finds it in his list and may improve it ...
    bob = harness.person("bob")
    shown = await harness.gate.call(bob, "templates.show", template_id=made.id)
    assert shown.can_write and not shown.can_delete
    assert "Chem pipeline" in await titles(harness, "bob")
    changed = await save(harness, "bob", template_id=made.id, title="Chem pipeline (fixed)")
    assert (changed.scope, changed.project, changed.owner) == ("project", "chem", "alice")
    # ... but only its maker (or a project admin) deletes it.
    with pytest.raises(VerbDenied):
        await harness.gate.call(bob, "templates.delete", template_id=made.id)
    # carol is in physics, not chem: she cannot read it, list it or share into chem.
    carol = harness.person("carol")
    with pytest.raises(VerbDenied):
        await harness.gate.call(carol, "templates.show", template_id=made.id)
    assert "Chem pipeline (fixed)" not in await titles(harness, "carol")
    with pytest.raises(VerbDenied):
        await save(harness, "carol", title="Sneaky", scope="project", project="chem")
    await harness.gate.call(harness.person("alice"), "templates.delete", template_id=made.id)


async def test_site_templates_are_read_by_all_and_written_by_admins(harness: Harness) -> None:
    with pytest.raises(VerbDenied):
        await save(harness, "alice", title="Official", scope="site")
    made = await save(harness, "erin", title="Official", scope="site", description="From IT")
    assert made.scope == "site"
    for person in ("alice", "carol"):
        shown = await harness.gate.call(
            harness.person(person), "templates.show", template_id=made.id
        )
        assert shown.title == "Official" and not shown.can_write and not shown.can_delete
        assert "Official" in await titles(harness, person)
    with pytest.raises(VerbDenied):
        await save(harness, "alice", template_id=made.id, title="Defaced")
    with pytest.raises(VerbDenied):
        await harness.gate.call(harness.person("alice"), "templates.delete", template_id=made.id)
    await harness.gate.call(harness.person("erin"), "templates.delete", template_id=made.id)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"title": ""}, "title", "at least 1"),
        ({"title": "   "}, "title", "give the template a name"),
        ({"title": "x" * 101}, "title", "at most 100"),
        ({"title": "two\nlines"}, "title", "one line"),
        ({"script": "#!/bin/bash\n#SBATCH --uid=0\ntrue\n"}, "script", "#SBATCH"),
        ({"script": "#!/bin/bash\n" + "x" * (1024 * 1024)}, "script", "at most"),
        ({"name": "bad;name"}, "name", "may not contain"),
        ({"scope": "project"}, "project", "choose the project"),
        ({"scope": "everyone"}, "scope", "personal"),
        ({"ntasks": 0}, "ntasks", "greater than or equal to 1"),
    ],
)
async def test_bad_templates_are_explained_next_to_the_field(
    harness: Harness, fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(VerbInvalid) as refused:
        await save(harness, "alice", **fields)
    assert words in refused.value.fields.get(field, ""), refused.value.fields
    assert await titles(harness, "alice") == set()


async def test_the_examples_are_seeded_once(harness: Harness) -> None:
    store = TemplateStore(harness.database)
    assert await store.seed_examples() == len(EXAMPLES)
    assert await store.seed_examples() == 0
    assert {example["name"] for example in EXAMPLES} <= await titles(harness, "carol")


async def test_a_jobs_script_is_read_back_as_its_owner(harness: Harness) -> None:
    job = submit_as("alice", "--job-name=again", "--wrap", "sleep 60")
    try:
        kept = await harness.gate.call(harness.person("alice"), "jobs.script", job_id=job)
        assert kept.available and "sleep 60" in kept.script
        with pytest.raises(VerbDenied):
            await harness.gate.call(harness.person("bob"), "jobs.script", job_id=job)
    finally:
        subprocess.run(["scancel", job], check=False)


async def test_a_forgotten_script_is_said_to_be_unavailable(harness: Harness) -> None:
    # A job number Slurm never had: the gate cannot place it, so only admins get
    # through, and Slurm then has nothing to give.
    kept = await harness.gate.call(harness.person("erin"), "jobs.script", job_id="99999999")
    assert not kept.available and kept.script == ""
