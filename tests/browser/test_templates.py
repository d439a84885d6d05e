"""alice uses the job composer in a browser: saves a job as a template, starts a job
from it, submits a script file from her home folder, resubmits a finished job, and
deletes her template; every job runs on the real cluster."""

from __future__ import annotations

import subprocess
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal


def wait_until_done(page: Page, words: str) -> str:
    """On a job's page: the job runs to completion and printed ``words``."""
    expect(page.get_by_role("heading", name="Job ")).to_be_visible()
    job_id = page.url.rsplit("/", 1)[-1]
    status = page.locator(f"#job-status-{job_id}")
    expect(status).to_have_attribute("data-state", "completed", timeout=90_000)
    expect(page.locator("pre[data-stream=stdout]")).to_contain_text(words, timeout=15_000)
    return job_id


def write_as(user: str, path: str, text: str) -> None:
    """A file written by ``user`` themselves, as they would have made it."""
    subprocess.run(
        ["runuser", "-u", user, "--", "tee", path],
        input=text,
        text=True,
        check=True,
        capture_output=True,
    )


def test_alice_saves_a_template_and_runs_a_job_from_it(page: Page, portal: Portal) -> None:
    title = f"My hello {uuid.uuid4().hex[:6]}"
    sign_in(page, portal.url, "alice")
    page.goto(portal.url + "/jobs/new")
    page.get_by_label("Job name").fill("from-template")
    page.get_by_label("Time limit (minutes)").fill("5")
    page.get_by_label("Working folder").fill("/home/alice")
    page.get_by_label("Script").fill('#!/bin/bash\necho "made from a template"\n')
    page.get_by_role("button", name="Save as template…").click()

    # The template form, filled in with the job's fields: she names it and saves.
    expect(page.get_by_role("heading", name="New template")).to_be_visible()
    expect(page.get_by_label("Time limit (minutes)")).to_have_value("5")
    page.get_by_label("Template name").fill(title)
    page.get_by_label("Description (optional)").fill("Says hello and where it ran.")
    expect(page.get_by_label("Only me")).to_be_checked()
    screenshot(page, "templates-form")
    page.get_by_role("button", name="Save template").click()

    expect(page.get_by_text(f"Saved the template “{title}”.")).to_be_visible()
    row = page.locator("tr[data-template]", has_text=title)
    expect(row).to_contain_text("5 min")
    screenshot(page, "templates-list")

    row.get_by_role("button", name=f"Use {title}").click()
    expect(page.get_by_text(f"Filled in from the template “{title}”")).to_be_visible()
    expect(page.get_by_label("Job name")).to_have_value("from-template")
    expect(page.get_by_label("Script")).to_have_value('#!/bin/bash\necho "made from a template"\n')
    screenshot(page, "jobs-new-from-template")
    page.get_by_role("button", name="Submit job").click()
    wait_until_done(page, "made from a template")

    # Deleting asks first; the template is gone afterwards.
    page.goto(portal.url + "/jobs/templates")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-template]", has_text=title).get_by_role(
        "button", name=f"Delete {title}"
    ).click()
    expect(page.get_by_text("The template was deleted.")).to_be_visible()
    expect(page.locator("tr[data-template]", has_text=title)).to_have_count(0)


def test_alice_submits_a_script_file_and_resubmits_the_job(page: Page, portal: Portal) -> None:
    name = f"onestop-test-{uuid.uuid4().hex[:6]}.sh"
    path = f"/home/alice/{name}"
    write_as(
        "alice",
        path,
        "#!/bin/bash\n#SBATCH --job-name=from-file\n#SBATCH --time=00:04:00\n"
        "#SBATCH --output=mine.log\n"
        'echo "ran from my file in $(pwd)"\n',
    )
    try:
        sign_in(page, portal.url, "alice")
        page.goto(portal.url + "/jobs/from-file")
        expect(page.get_by_role("link", name=path)).to_be_visible()
        screenshot(page, "jobs-from-file")

        # A wrong name is explained next to the field, and what she typed stays.
        page.get_by_label("The script file").fill("no-such-script.sh")
        page.get_by_role("button", name="Read it and fill in the job form").click()
        expect(page.locator(".field-error")).to_contain_text("There is no file at")
        expect(page.get_by_label("The script file")).to_have_value("no-such-script.sh")

        page.get_by_label("The script file").fill(name)
        page.get_by_role("button", name="Read it and fill in the job form").click()
        expect(page.get_by_text(f"Filled in from {path}")).to_be_visible()
        expect(page.get_by_text("names the output files itself")).to_be_visible()
        expect(page.get_by_label("Job name")).to_have_value("from-file")
        expect(page.get_by_label("Time limit (minutes)")).to_have_value("4")
        expect(page.get_by_label("Working folder")).to_have_value("/home/alice")
        screenshot(page, "jobs-new-from-file")
        page.get_by_role("button", name="Submit job").click()
        first = wait_until_done(page, "ran from my file in /home/alice")
        screenshot(page, "job-page-again")

        # Resubmit: the same settings and script, shown for her to check.
        page.get_by_role("button", name="Resubmit (run it again)").click()
        expect(page.get_by_text(f"settings and script of job {first}")).to_be_visible()
        expect(page.get_by_label("Job name")).to_have_value("from-file")
        expect(page.get_by_label("Time limit (minutes)")).to_have_value("4")
        expect(page.get_by_label("Script")).to_have_value(
            '#!/bin/bash\necho "ran from my file in $(pwd)"\n'
        )
        screenshot(page, "jobs-resubmit")
        page.get_by_role("button", name="Submit job").click()
        second = wait_until_done(page, "ran from my file in /home/alice")
        assert second != first

        # And the job becomes a template from its own page.
        page.get_by_role("button", name="Save as template").click()
        expect(page.get_by_label("Template name")).to_have_value("from-file")
        # ("Description" contains "script": the field is named, not its label.)
        expect(page.locator("textarea[name=script]")).to_have_value(
            '#!/bin/bash\necho "ran from my file in $(pwd)"\n'
        )
    finally:
        subprocess.run(["rm", "-f", path], check=False)


def test_site_templates_are_offered_to_everyone(page: Page, portal: Portal) -> None:
    sign_in(page, portal.url, "carol")
    page.goto(portal.url + "/jobs/templates")
    row = page.locator("tr[data-template]", has_text="Hello world")
    expect(row.get_by_role("button", name="Use Hello world")).to_be_visible()
    # Hers to use and copy, not to change.
    expect(row.get_by_role("button", name="Edit Hello world")).to_have_count(0)
    expect(row.get_by_role("button", name="Delete Hello world")).to_have_count(0)
    # A copy is hers: she may share it with her project, not with the whole site.
    row.get_by_role("button", name="Copy Hello world").click()
    expect(page.get_by_label("Template name")).to_have_value("Copy of Hello world")
    expect(page.get_by_label("Everyone in my project physics")).to_be_visible()
    expect(page.get_by_text("a site template")).to_have_count(0)
    page.get_by_label("Everyone in my project physics").check()
    page.get_by_role("button", name="Save template").click()
    mine = page.locator("section", has=page.get_by_role("heading", name="physics"))
    copied = mine.locator("tr[data-template]", has_text="Copy of Hello world")
    expect(copied.get_by_role("button", name="Edit Copy of Hello world")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    copied.get_by_role("button", name="Delete Copy of Hello world").first.click()
    expect(page.get_by_text("The template was deleted.")).to_be_visible()
