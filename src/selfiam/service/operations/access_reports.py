"""Service last accessed: GenerateServiceLastAccessedDetails, GetServiceLastAccessedDetails,
GetServiceLastAccessedDetailsWithEntities, ListPoliciesGrantingServiceAccess.

AWS computes a job in the background; selfiam computes it when it is generated (bounded:
see ``service/access_reports.py``) and stores it, so that a job is ``COMPLETED`` from the
first Get and every node answers it alike. The shapes and errors follow the IAM API
reference (API_GenerateServiceLastAccessedDetails.html, API_GetServiceLastAccessedDetails
.html, API_GetServiceLastAccessedDetailsWithEntities.html,
API_ListPoliciesGrantingServiceAccess.html).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from selfiam.catalog import Catalog
from selfiam.domain.errors import InvalidInput
from selfiam.service.access_reports import (
    entity_details,
    granted_services,
    report_for,
    resolve_entity,
)
from selfiam.service.context import OperationContext
from selfiam.service.registry import operation
from selfiam.store import tables as t

#: How long a job's report is kept (AWS keeps a job's report for at least 30 days... then
#: a Get answers that the job is not valid).
RETENTION = timedelta(days=30)
DEFAULT_MAX_ITEMS = 100


@operation("GenerateServiceLastAccessedDetails")
def generate_service_last_accessed_details(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    arn = str(params["Arn"])
    ctx.authorize(arn)
    granularity = str(params.get("Granularity") or "SERVICE_LEVEL")
    entity = resolve_entity(ctx.conn, ctx.account_id, arn)
    report = report_for(ctx.conn, entity, granularity)
    now = ctx.info.now
    jobs = t.access_report_jobs
    # old jobs go as new ones come: the table holds about a month of reports
    ctx.conn.execute(
        delete(jobs).where(jobs.c.account_id == ctx.account_id, jobs.c.created_at < now - RETENTION)
    )
    job_id = str(uuid.uuid4())
    ctx.conn.execute(
        jobs.insert().values(
            job_id=job_id,
            account_id=ctx.account_id,
            arn=arn,
            granularity=granularity,
            created_at=now,
            completed_at=now,
            report=json.dumps(report, separators=(",", ":")),
        )
    )
    return {"JobId": job_id}


def _job(ctx: OperationContext, params: Mapping[str, Any]) -> Any:
    job_id = str(params["JobId"])
    jobs = t.access_report_jobs
    row = ctx.conn.execute(
        select(jobs).where(jobs.c.job_id == job_id, jobs.c.account_id == ctx.account_id)
    ).first()
    if row is None:
        # AWS: an unknown job id is an invalid input value, not a missing entity.
        raise InvalidInput(f"Job ID {job_id} is not valid.")
    return row


def _page(items: Sequence[Any], params: Mapping[str, Any]) -> tuple[Sequence[Any], dict[str, Any]]:
    """MaxItems / Marker over a stored list; the marker is the next item's position."""
    max_items = int(params.get("MaxItems") or DEFAULT_MAX_ITEMS)
    start = 0
    marker = params.get("Marker")
    if marker is not None:
        text = str(marker)
        if not text.isdigit() or int(text) > len(items):
            raise InvalidInput("Invalid Marker.")
        start = int(text)
    page = items[start : start + max_items]
    end = start + len(page)
    if end < len(items):
        return page, {"IsTruncated": True, "Marker": str(end)}
    return page, {"IsTruncated": False}


def _times(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    for key in ("LastAuthenticated", "LastAccessedTime"):
        if key in out:
            out[key] = datetime.fromisoformat(out[key])
    return out


def _job_fields(row: Any) -> dict[str, Any]:
    return {
        "JobStatus": "COMPLETED",
        "JobCreationDate": row.created_at,
        "JobCompletionDate": row.completed_at,
    }


@operation("GetServiceLastAccessedDetails", writes=False)
def get_service_last_accessed_details(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.authorize("*")
    row = _job(ctx, params)
    services = json.loads(row.report)["services"]
    page, paging = _page(services, params)
    shown = []
    for item in page:
        out = _times(item)
        if "TrackedActionsLastAccessed" in out:
            out["TrackedActionsLastAccessed"] = [
                _times(a) for a in out["TrackedActionsLastAccessed"]
            ]
        shown.append(out)
    return {
        **_job_fields(row),
        "JobType": row.granularity,
        "ServicesLastAccessed": shown,
        **paging,
    }


@operation("GetServiceLastAccessedDetailsWithEntities", writes=False)
def get_service_last_accessed_details_with_entities(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.authorize("*")
    row = _job(ctx, params)
    details = entity_details(json.loads(row.report), str(params["ServiceNamespace"]).lower())
    if details is None:
        # the entity's policies do not grant the service: the report has nothing on it
        raise InvalidInput(f"Service namespace {params['ServiceNamespace']} is not valid.")
    page, paging = _page(details, params)
    return {
        **_job_fields(row),
        "EntityDetailsList": [_times(d) for d in page],
        **paging,
    }


@operation("ListPoliciesGrantingServiceAccess", writes=False)
def list_policies_granting_service_access(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    arn = str(params["Arn"])
    ctx.authorize(arn)
    if params.get("Marker") is not None:
        raise InvalidInput("Invalid Marker.")  # the answer is never truncated
    entity = resolve_entity(ctx.conn, ctx.account_id, arn)
    catalog = Catalog.load()
    namespaces = [str(n).lower() for n in params["ServiceNamespaces"]]
    granting: dict[str, list[dict[str, Any]]] = {n: [] for n in namespaces}
    for found in entity.policies:
        granted = granted_services([found.policy], catalog)
        for namespace in namespaces:
            if namespace not in granted:
                continue
            item: dict[str, Any] = {
                "PolicyName": found.name,
                "PolicyType": "MANAGED" if found.arn else "INLINE",
            }
            if found.arn:
                item["PolicyArn"] = found.arn
            else:
                item["EntityType"] = found.entity_type
                item["EntityName"] = found.entity_name
            granting[namespace].append(item)
    return {
        "PoliciesGrantingServiceAccess": [
            {"ServiceNamespace": n, "Policies": granting[n]} for n in namespaces
        ],
        "IsTruncated": False,
    }
