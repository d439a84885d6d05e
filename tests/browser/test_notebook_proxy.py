"""JupyterLab in a real browser, through the portal's proxy on the session's own
origin: it runs a cell, and the secret that opens the server is nowhere the page (or
a script on it) could read."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect

from tests import notebook_paths
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal
from tests.jupyter_session import Jupyter, jupyter_as, register
from tests.notebook_origin import nb_origin

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "source": "", "outputs": [], "execution_count": None}
    ],
    "metadata": {
        "kernelspec": {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

# Through the portal's own proxy and through nginx (tests/notebook_paths.py).
portal = notebook_paths.portal
proxy_path = notebook_paths.proxy_path


@pytest.fixture(scope="module")
def alice_nb(portal: Portal) -> Iterator[Jupyter]:
    with jupyter_as("alice") as jupyter:
        register(portal.database_url, jupyter)
        yield jupyter


def test_jupyterlab_runs_a_cell_and_never_sees_the_secret(
    page: Page, portal: Portal, alice_nb: Jupyter
) -> None:
    answers: list[str] = []

    def remember(response: Response) -> None:
        answers.append(f"{response.url} {json.dumps(response.headers)}")

    page.on("response", remember)
    sign_in(page, portal.url, "alice")
    # An old address on the portal leads through Connect to the session's own origin.
    origin = nb_origin(portal.url, alice_nb.session_id)
    page.goto(f"{portal.url}/notebooks/{alice_nb.session_id}")
    expect(page).to_have_url(f"{origin}{alice_nb.base}lab", timeout=30000)
    # A notebook of hers with its kernel named, opened in a fresh workspace (so what
    # an earlier run left open does not matter); the kernel starts by itself.
    name = f"proxy-{secrets.token_hex(4)}.ipynb"
    notebook = Path("/home/alice") / name
    notebook.write_text(json.dumps(NOTEBOOK))
    os.chown(notebook, 2001, 2001)
    try:
        page.goto(f"{origin}{alice_nb.base}lab/workspaces/{name[:-6]}/tree/{name}")
        expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60000)
        editor = page.locator(".jp-Notebook .jp-Cell .cm-content").first
        editor.click()
        page.keyboard.type("6 * 7")
        expect(editor).to_have_text("6 * 7")
        page.keyboard.press("Shift+Enter")
        expect(page.locator(".jp-OutputArea-output").first).to_have_text("42", timeout=60000)
        screenshot(page, "notebook-proxy-lab")
    finally:
        notebook.unlink()

    stored = page.evaluate(
        """() => JSON.stringify({
            local: Object.entries(localStorage),
            session: Object.entries(sessionStorage),
            cookies: document.cookie,
            config: document.getElementById('jupyter-config-data')?.textContent ?? '',
        })"""
    )
    everything = "\n".join([stored, json.dumps(page.context.cookies()), page.content(), *answers])
    assert "_xsrf" in everything and alice_nb.session_id in everything, "the checks saw the page"
    assert alice_nb.secret not in everything
