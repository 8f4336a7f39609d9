"""Service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole and
GetServiceLinkedRoleDeletionStatus.

AWS (IAM API Reference, "Using service-linked roles"): the role's name comes from the
service (``AWSServiceRoleFor…``, ``_SUFFIX`` appended for a CustomSuffix), its path is
``/aws-service-role/SERVICE/``, its trust policy admits the service principal alone,
and the service's own managed policy is attached. The service controls the role: IAM
refuses to change its trust policy or permissions, or to delete it other than through
DeleteServiceLinkedRole (``protected_roles``). Deletion is a task AWS runs
asynchronously; selfiam deletes at once and keeps the task's id, whose status is then
SUCCEEDED.

selfiam ships only a few AWS managed policies: when it does not hold the service's
policy, the role gets none, and the audit record says which one was left out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from selfiam.domain.arns import ArnError, role_arn
from selfiam.domain.errors import EntityAlreadyExists, InvalidInput, NoSuchEntity
from selfiam.service.context import OperationContext
from selfiam.service.lookup import find_role, no_such_role
from selfiam.service.operations.policy_common import find_policy
from selfiam.service.operations.roles import insert_role, role_shape
from selfiam.service.protected_roles import service_of
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_row
from selfiam.store.owned import delete_owned

SERVICE_SUFFIX = ".amazonaws.com"
SLR_PATH = "/aws-service-role/{service}/"
#: Role names and managed policies AWS uses for some services (others: the name is
#: derived from the service's prefix, and no policy is known).
KNOWN_SERVICES: dict[str, tuple[str, str | None]] = {
    "autoscaling": ("AutoScaling", "AutoScalingServiceRolePolicy"),
    "elasticbeanstalk": ("ElasticBeanstalk", "AWSElasticBeanstalkServiceRolePolicy"),
    "ecs": ("ECS", "AmazonECSServiceRolePolicy"),
    "eks": ("AmazonEKS", "AmazonEKSServiceRolePolicy"),
    "elasticloadbalancing": ("ElasticLoadBalancing", "AWSElasticLoadBalancingServiceRolePolicy"),
    "rds": ("RDS", "AmazonRDSServiceRolePolicy"),
    "organizations": ("Organizations", "AWSOrganizationsServiceTrustPolicy"),
    "support": ("Support", "AWSSupportServiceRolePolicy"),
    "trustedadvisor": ("TrustedAdvisor", "AWSTrustedAdvisorServiceRolePolicy"),
    "guardduty": ("AmazonGuardDuty", "AmazonGuardDutyServiceRolePolicy"),
    "spot": ("EC2Spot", "AWSEC2SpotServiceRolePolicy"),
    "es": ("AmazonElasticsearchService", "AmazonElasticsearchServiceRolePolicy"),
}


def _name_and_policy(service: str) -> tuple[str, str | None]:
    prefix = service.removesuffix(SERVICE_SUFFIX)
    known = KNOWN_SERVICES.get(prefix)
    if known is not None:
        return f"AWSServiceRoleFor{known[0]}", known[1]
    pascal = "".join(part[:1].upper() + part[1:] for part in prefix.replace(".", "-").split("-"))
    return f"AWSServiceRoleFor{pascal}", None


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": [service]},
                    "Action": ["sts:AssumeRole"],
                }
            ],
        },
        separators=(",", ":"),
    )


@operation("CreateServiceLinkedRole")
def create_service_linked_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    service = str(params["AWSServiceName"])
    if not service.endswith(SERVICE_SUFFIX) or len(service) == len(SERVICE_SUFFIX):
        raise InvalidInput(f"Invalid service name: {service}.")
    name, policy_name = _name_and_policy(service)
    if params.get("CustomSuffix"):
        name = f"{name}_{params['CustomSuffix']}"
    path = SLR_PATH.format(service=service)
    ctx.authorize(
        role_arn(ctx.account_id, name, path), extra_context={"iam:AWSServiceName": service}
    )
    try:
        role_id = insert_role(
            ctx,
            name=name,
            path=path,
            document=_trust(service),
            description=params.get("Description"),
            max_session_duration=3600,
            boundary=None,
        )
    except EntityAlreadyExists:
        raise InvalidInput(
            f"Service role name {name} has been taken in this account, please try a "
            "different suffix."
        ) from None
    ctx.conn.execute(t.service_linked_roles.insert().values(role_id=role_id, service_name=service))
    policy_arn = f"arn:aws:iam::aws:policy/aws-service-role/{policy_name}" if policy_name else None
    policy = find_policy(ctx.conn, ctx.account_id, policy_arn) if policy_arn else None
    if policy is not None:
        ctx.conn.execute(
            t.role_policy_attachments.insert().values(role_id=role_id, policy_id=policy.policy_id)
        )
    else:
        ctx.audit_note = (
            f"no managed policy attached: selfiam holds no {policy_arn}"
            if policy_arn
            else f"no managed policy attached: selfiam knows none for {service}"
        )
    ctx.changed_authorization()
    row = ctx.conn.execute(select(t.roles).where(t.roles.c.role_id == role_id)).one()
    out = role_shape(ctx.conn, row, ctx.account_id, {})
    del out["RoleLastUsed"]
    return {"Role": out}


@operation("DeleteServiceLinkedRole")
def delete_service_linked_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["RoleName"])
    row = find_role(ctx.conn, ctx.account_id, name)
    ctx.authorize(
        role_arn(ctx.account_id, row.name, row.path) if row else role_arn(ctx.account_id, name)
    )
    if row is None or not lock_row(ctx.conn, t.roles, t.roles.c.role_id, row.role_id):
        raise no_such_role(name)
    if service_of(ctx.conn, row.role_id) is None:
        raise NoSuchEntity(f"Role {row.name} is not a service-linked role.")
    ctx.conn.execute(
        t.role_policy_attachments.delete().where(t.role_policy_attachments.c.role_id == row.role_id)
    )
    ctx.conn.execute(
        t.instance_profile_roles.delete().where(t.instance_profile_roles.c.role_id == row.role_id)
    )
    delete_owned(ctx.conn, "role", row.role_id)
    ctx.conn.execute(t.roles.delete().where(t.roles.c.role_id == row.role_id))
    task_id = f"task{row.path}{row.name}/{uuid.uuid4()}"
    ctx.conn.execute(
        t.role_deletion_tasks.insert().values(
            task_id=task_id, account_id=ctx.account_id, status="SUCCEEDED", created_at=ctx.info.now
        )
    )
    ctx.changed_authorization()  # its sessions are gone (cascade)
    return {"DeletionTaskId": task_id}


@operation("GetServiceLinkedRoleDeletionStatus", writes=False)
def get_service_linked_role_deletion_status(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    task_id = str(params["DeletionTaskId"])
    # task/aws-service-role/SERVICE/NAME/UUID names the role it deleted.
    path, _, role_name = task_id.removeprefix("task").rsplit("/", 1)[0].rpartition("/")
    try:
        resource = role_arn(ctx.account_id, role_name, f"{path}/")
    except ArnError:
        resource = f"arn:aws:iam::{ctx.account_id}:role/*"
    ctx.authorize(resource)
    tasks = t.role_deletion_tasks
    status = ctx.conn.execute(
        select(tasks.c.status).where(
            tasks.c.task_id == task_id, tasks.c.account_id == ctx.account_id
        )
    ).scalar()
    if status is None:
        raise NoSuchEntity(f"Deletion task {task_id} cannot be found.")
    return {"Status": str(status)}
