"""Template verbs: the job composer's saved jobs, kept in the portal database.

A template is named to policy by who it belongs to, so Casbin rules can say who may
use it (app/policy/default_policy.csv):

- ``template:personal/<owner>/<id>``: one person's own;
- ``template:project/<project>/<creator>/<id>`` in the domain ``<project>``: shared
  with the members of a project (a Unix group); the creator is in the name so a rule
  can let members change each other's templates but delete only their own;
- ``template:site/<id>``: provided by the site's administrators for everyone.

A new template is ``.../new`` in the place it would be created. An edit keeps the
template where it is (scope, project, owner): to move one, copy it and delete the old.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from app.policy.roles import MEMBER, PROJECT_ADMIN
from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from app.verbs.errors import VerbFailed
from app.verbs.services import Services
from wrappers.jobs.models import JobTemplate
from wrappers.jobs.template_store import TemplateStore, decoded_fields
from wrappers.jobs.verbs.jobs import SubmitArgs

Scope = Literal["personal", "project", "site"]
# The submission form's fields a template keeps besides its script. The e-mail address
# is left out: it belongs to whoever submits, not to a shared template.
JOB_FIELDS = (
    "name",
    "partition",
    "time_minutes",
    "nodes",
    "ntasks",
    "cpus_per_task",
    "memory_mb",
    "workdir",
    "array",
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class TemplateArgs(BaseModel):
    template_id: int = Field(ge=1, le=2**31 - 1)


class SaveArgs(SubmitArgs):
    """A template is a submission not sent yet: the same fields under the same rules
    (so a template can always be submitted as it is), plus its own name and place."""

    template_id: int = Field(default=0, ge=0, le=2**31 - 1)  # 0: a new template
    scope: Scope = "personal"
    project: str = Field(default="", pattern=r"^([a-z_][a-z0-9_.-]{0,31})?$", validate_default=True)
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)

    @field_validator("title")
    @classmethod
    def _plain_title(cls, title: str) -> str:
        title = title.strip()
        if not title:
            raise ValueError("give the template a name")
        if CONTROL.search(title) or "\n" in title:
            raise ValueError("a template name is one line of plain text")
        return title

    @field_validator("description")
    @classmethod
    def _plain_description(cls, description: str) -> str:
        if CONTROL.search(description):
            raise ValueError("the description contains control characters")
        return description.strip()

    @field_validator("project")
    @classmethod
    def _project_named(cls, project: str, info: ValidationInfo) -> str:
        # Fields are checked in order: template_id and scope are known here.
        if info.data.get("scope") == "project" and not info.data.get("template_id"):
            if not project:
                raise ValueError("choose the project to share it with")
        return project


class TemplateView(BaseModel):
    id: int
    scope: Scope
    owner: str
    project: str
    title: str
    description: str
    fields: dict[str, str | int]
    script: str
    updated_at: datetime
    can_write: bool = False
    can_delete: bool = False


class TemplateList(BaseModel):
    templates: list[TemplateView]


class Deleted(BaseModel):
    deleted: bool


def _store(services: Services) -> TemplateStore:
    return services.own(TemplateStore)


def place(scope: str, owner: str, project: str, template_id: int | str) -> tuple[str, str]:
    """(domain, object value) for a template in ``scope``; see the module's docstring."""
    if scope == "project":
        return project or "-", f"project/{project or '-'}/{owner}/{template_id}"
    if scope == "site":
        return "*", f"site/{template_id}"
    return "*", f"personal/{owner}/{template_id}"


def _place_of(record: JobTemplate) -> tuple[str, str]:
    assert record.id is not None
    return place(record.scope, record.owner, record.project, record.id)


async def existing_template(args: Any, identity: Identity, services: Any) -> tuple[str, str]:
    """The template where it really is. An unknown number is named as the asker's
    own, so they get "no such template" rather than a refusal that says nothing."""
    record = await _store(services).get(args.template_id)
    if record is None:
        return "*", f"personal/{identity.unix_name}/{args.template_id}"
    return _place_of(record)


async def saved_template(args: Any, identity: Identity, services: Any) -> tuple[str, str]:
    if args.template_id:
        return await existing_template(args, identity, services)
    return place(args.scope, identity.unix_name, args.project, "new")


async def own_shelf(args: Any, identity: Identity, services: Any) -> str:
    """Listing is reading one's own shelf; what else is listed is asked one by one."""
    return f"personal/{identity.unix_name}"


async def _view(record: JobTemplate, identity: Identity, services: Any) -> TemplateView:
    domain, value = _place_of(record)
    obj = f"template:{value}"
    enforce = services.policy.enforce
    fields = {
        key: value
        for key, value in decoded_fields(record).items()
        if key in JOB_FIELDS and isinstance(value, str | int)
    }
    assert record.id is not None
    return TemplateView(
        id=record.id,
        scope=record.scope if record.scope in ("project", "site") else "personal",  # type: ignore[arg-type]
        owner=record.owner,
        project=record.project,
        title=record.name,
        description=record.description,
        fields=fields,
        script=record.script,
        updated_at=record.updated_at,
        can_write=await enforce(identity.unix_name, domain, obj, "write"),
        can_delete=await enforce(identity.unix_name, domain, obj, "delete"),
    )


async def list_templates(args: Any, identity: Identity, services: Any) -> TemplateList:
    """The asker's own templates, those of the projects they are a member of, and the
    site's; each one also passes policy, so a rule taken away hides it here too."""
    policy = services.policy
    projects = [
        domain
        for role, domain in await policy.roles_of(identity.unix_name)
        if role in (MEMBER, PROJECT_ADMIN) and domain != "*"
    ]
    shown = []
    for record in await _store(services).visible(identity.unix_name, projects):
        domain, value = _place_of(record)
        if await policy.enforce(identity.unix_name, domain, f"template:{value}", "read"):
            shown.append(await _view(record, identity, services))
    order = {"personal": 0, "project": 1, "site": 2}
    # The site's in the order the HPC team made them (the first is the simplest).
    shown.sort(
        key=lambda view: (
            order[view.scope],
            view.project,
            view.id if view.scope == "site" else 0,
            view.title.lower(),
        )
    )
    return TemplateList(templates=shown)


async def show_template(args: Any, identity: Identity, services: Any) -> TemplateView:
    record = await _store(services).get(args.template_id)
    if record is None:
        raise VerbFailed("There is no such template.", "ENOENT")
    return await _view(record, identity, services)


async def save_template(args: Any, identity: Identity, services: Any) -> TemplateView:
    store = _store(services)
    values = {
        "name": args.title,
        "description": args.description,
        "fields": {key: getattr(args, key) for key in JOB_FIELDS},
        "script": args.script,
    }
    if args.template_id:
        record = await store.update(args.template_id, **values)
        if record is None:
            raise VerbFailed("There is no such template.", "ENOENT")
    else:
        record = await store.create(
            scope=args.scope,
            owner=identity.unix_name,
            project=args.project if args.scope == "project" else "",
            **values,
        )
    return await _view(record, identity, services)


async def delete_template(args: Any, identity: Identity, services: Any) -> Deleted:
    if not await _store(services).delete(args.template_id):
        raise VerbFailed("There is no such template.", "ENOENT")
    return Deleted(deleted=True)


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb(
        "templates.list",
        NoArgs,
        TemplateList,
        "template",
        "read",
        own_shelf,
        local=list_templates,
        description="The job templates the person may use",
    ),
    Verb(
        "templates.show",
        TemplateArgs,
        TemplateView,
        "template",
        "read",
        existing_template,
        local=show_template,
        description="One job template, to submit from or to edit",
    ),
    Verb(
        "templates.save",
        SaveArgs,
        TemplateView,
        "template",
        "write",
        saved_template,
        local=save_template,
        description="Create a job template, or change one",
    ),
    Verb(
        "templates.delete",
        TemplateArgs,
        Deleted,
        "template",
        "delete",
        existing_template,
        local=delete_template,
        description="Delete a job template",
    ),
)
