"""Hello: the smallest Onestop tool, and the example of "Adding a tool" in the README.

It has one page (/hello), one dashboard card, one verb of its own (hello.greet) and
one default policy rule, and it uses one verb of the portal (cluster.snapshot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.security.sessions import Identity
from app.tools import Card, Tool
from app.verbs.catalog import Verb
from app.web.templating import render
from wrappers.request import verb_gate, viewer


class GreetArgs(BaseModel):
    # Checked by the gate before anything runs: bad input is a plain message.
    name: str = Field(default="", max_length=40, pattern=r"^[\w .'-]*$")


class Greeting(BaseModel):
    text: str


async def own_greeting(args: GreetArgs, identity: Identity, services: Any) -> str:
    """The object policy is asked about: greeting:<who is asking>."""
    return identity.unix_name


async def greet(args: GreetArgs, identity: Identity, services: Any) -> Greeting:
    return Greeting(text=f"Hello, {args.name or identity.display_name}!")


async def hello_page(request: Request) -> Response:
    person = viewer(request)
    gate = verb_gate(request)
    # Refused, invalid or unavailable: nothing to catch here. The portal answers a verb
    # error with the status and plain page of its kind (app/web/errors.py).
    greeting = await gate.call(person, "hello.greet", name=request.query_params.get("name", ""))
    snapshot = (await gate.call(person, "cluster.snapshot")).snapshot
    return render(
        request,
        "hello/page.html",
        {"active": "hello", "greeting": greeting.text, "snapshot": snapshot},
    )


async def card_context(request: Request) -> dict[str, Any]:
    greeting = await verb_gate(request).call(viewer(request), "hello.greet")
    return {"greeting": greeting.text}


tool = Tool(
    name="hello",
    title="Hello",
    url="/hello",
    routes=[Route("/hello", hello_page, methods=["GET"])],
    templates=Path(__file__).parent / "templates",
    card=Card("hello/card.html", card_context),
    verbs=[Verb("hello.greet", GreetArgs, Greeting, "greeting", "read", own_greeting, local=greet)],
    uses=["cluster.snapshot"],
    kinds=["greeting"],
    policy=["p, user, *, greeting:{sub}, read"],
    order=50,
)
