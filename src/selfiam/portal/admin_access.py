"""Admin pages for service last accessed: which services (and, for the tracked ones,
which actions) a user, group, role or managed policy grants were really used, when and
by whom — the report an admin trims a policy with.

Every button calls a service operation as the signed-in member, as the API would:
"Generate" is GenerateServiceLastAccessedDetails (a POST, then a redirect to the job's
page), the report is GetServiceLastAccessedDetails and a service's entities
GetServiceLastAccessedDetailsWithEntities, a page of ``PAGE`` items at a time (Marker in
the link). A member the policies refuse gets AWS's AccessDenied on the error page. No
JavaScript: forms and links only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from selfiam.portal.admin import call
from selfiam.portal.web import Pages, View

pages = Pages()

#: Items per page of a report (the operations' MaxItems).
PAGE = 100
GRANULARITIES = ("SERVICE_LEVEL", "ACTION_LEVEL")
BASE = "/admin/last-accessed"


def _job_path(job_id: str, namespace: str | None = None) -> str:
    path = f"{BASE}/{quote(job_id, safe='')}"
    return path if namespace is None else f"{path}/{quote(namespace, safe='')}"


def _marker(view: View) -> str | None:
    return view.request.query_params.get("marker", "")[:32] or None


@pages.get(BASE)
def report_form(view: View) -> Response:
    """A form for any ARN: a user, group, role or managed policy (AWS's included)."""
    arn = view.request.query_params.get("arn", "")[:2048]
    return view.render("admin/last_accessed_form.html", arn=arn)


@pages.post(BASE)
def generate(view: View) -> Response:
    arn = view.field("Arn").strip()
    granularity = view.field("Granularity") or "SERVICE_LEVEL"
    job = call(view, "GenerateServiceLastAccessedDetails", Arn=arn, Granularity=granularity)
    return view.redirect(_job_path(str(job["JobId"])))


@pages.get(BASE + "/{job}")
def report(view: View) -> Response:
    job_id = str(view.request.path_params["job"])[:64]
    answer = call(
        view, "GetServiceLastAccessedDetails", JobId=job_id, MaxItems=PAGE, Marker=_marker(view)
    )
    more = (
        _job_path(job_id) + f"?marker={quote(answer['Marker'])}" if answer["IsTruncated"] else None
    )
    return view.render(
        "admin/last_accessed.html",
        job_id=job_id,
        job=answer,
        services=answer["ServicesLastAccessed"],
        action_level=answer.get("JobType") == "ACTION_LEVEL",
        job_path=_job_path(job_id),
        more=more,
    )


@pages.get(BASE + "/{job}/{namespace}")
def entities(view: View) -> Response:
    job_id = str(view.request.path_params["job"])[:64]
    namespace = str(view.request.path_params["namespace"])[:64]
    answer: dict[str, Any] = call(
        view,
        "GetServiceLastAccessedDetailsWithEntities",
        JobId=job_id,
        ServiceNamespace=namespace,
        MaxItems=PAGE,
        Marker=_marker(view),
    )
    here = _job_path(job_id, namespace)
    more = f"{here}?marker={quote(answer['Marker'])}" if answer["IsTruncated"] else None
    return view.render(
        "admin/last_accessed_entities.html",
        job_id=job_id,
        namespace=namespace,
        job=answer,
        details=answer["EntityDetailsList"],
        job_path=_job_path(job_id),
        more=more,
    )
