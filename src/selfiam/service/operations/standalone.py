"""The newer operations of the IAM and STS models that belong to AWS Organizations, to AWS
partners or to AWS-managed role templates, answered as AWS answers them for a standalone
account: in no organization, not a partner, with no role template (issue 15).

Each authorizes first, like every operation (an unauthorized caller gets AccessDenied);
what an authorized administrator then gets is AWS's error for the situation, from the
operation's own error shapes in botocore's model (never InvalidAction):

- the centralized root access operations (List/Enable/Disable OrganizationsRoot*):
  ``OrganizationNotFoundException``, "no organization is associated with your account"
  (API_ListOrganizationsFeatures.html, Errors);
- the Organizations access report: generating one needs the organization's management
  account (API_GenerateOrganizationsAccessReport.html), so the same error; no job exists to
  get (``NoSuchEntity``);
- delegation requests (sent by AWS partners, API_CreateDelegationRequest.html): none can
  exist, so every id is ``NoSuchEntity`` and the list is empty; creating one, which only a
  partner's account may, is ``InvalidInput``;
- GetHumanReadableSummary summarizes delegation requests only: ``NoSuchEntity`` for one,
  ``InvalidInput`` for any other entity;
- role templates (AWS-managed, API_GetRoleTemplateVersion.html): ``NoSuchEntity``;
- STS: AssumeRoot works only from an organization's management account with root sessions
  enabled (API_AssumeRoot.html): no policy of a standalone account can allow it, so it is
  AccessDenied on the target's root, as for any action nothing allows;
  GetDelegatedAccessToken's trade-in token comes from an accepted delegation request, of
  which there are none (``ExpiredTradeInTokenException``); GetScopedCredentials needs a
  session of a kind selfiam does not issue (``InvalidSubjectCredentials``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from selfiam.domain.errors import AwsError, InvalidInput, NoSuchEntity
from selfiam.service.context import OperationContext
from selfiam.service.registry import operation


def _modeled(name: str, code: str, status: int, message: str) -> type[AwsError]:
    """An error of botocore's model: shapes without ``error`` metadata answer their shape
    name as the code, with HTTP 400."""
    return type(
        name,
        (AwsError,),
        {"code": code, "status": status, "sender_fault": True, "__doc__": message},
    )


OrganizationNotFound = _modeled(
    "OrganizationNotFound",
    "OrganizationNotFoundException",
    400,
    "The request was rejected because no organization is associated with your account.",
)
ExpiredTradeInToken = _modeled(
    "ExpiredTradeInToken",
    "ExpiredTradeInTokenException",
    400,
    "The trade-in token provided in the request has expired and can no longer be exchanged "
    "for credentials.",
)
InvalidSubjectCredentials = _modeled(
    "InvalidSubjectCredentials",
    "InvalidSubjectCredentials",
    400,
    "The session used to call GetScopedCredentials is not a valid session.",
)

NO_ORGANIZATION = str(OrganizationNotFound.__doc__)


# -- AWS Organizations ---------------------------------------------------------------------


def _no_organization(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    raise OrganizationNotFound(NO_ORGANIZATION)


for _name in (
    "ListOrganizationsFeatures",
    "EnableOrganizationsRootCredentialsManagement",
    "DisableOrganizationsRootCredentialsManagement",
    "EnableOrganizationsRootSessions",
    "DisableOrganizationsRootSessions",
    "GenerateOrganizationsAccessReport",
):
    operation(_name, writes=False)(_no_organization)


@operation("GetOrganizationsAccessReport", writes=False)
def get_organizations_access_report(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.authorize("*")
    raise NoSuchEntity(f"Job ID {params['JobId']} does not exist.")


# -- delegation requests (AWS partners) ----------------------------------------------------


def _no_such_request(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    raise NoSuchEntity(f"The delegation request {params['DelegationRequestId']} does not exist.")


for _name in (
    "GetDelegationRequest",
    "AcceptDelegationRequest",
    "RejectDelegationRequest",
    "AssociateDelegationRequest",
    "UpdateDelegationRequest",
    "SendDelegationToken",
):
    operation(_name, writes=_name != "GetDelegationRequest")(_no_such_request)


@operation("ListDelegationRequests", writes=False)
def list_delegation_requests(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    return {"DelegationRequests": [], "isTruncated": False}


@operation("CreateDelegationRequest")
def create_delegation_request(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    raise InvalidInput("Only an AWS partner's account can create a delegation request.")


@operation("GetHumanReadableSummary", writes=False)
def get_human_readable_summary(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """AWS summarizes only delegation requests (API_GetHumanReadableSummary.html: "the only
    supported entity type is delegation-request"), of which a standalone account has none."""
    arn = str(params["EntityArn"])
    ctx.authorize(arn)
    if ":delegation-request/" in arn:
        raise NoSuchEntity(f"The delegation request {arn} does not exist.")
    raise InvalidInput(
        f"The entity {arn} is not supported: the only supported entity type is delegation-request."
    )


# -- role templates ------------------------------------------------------------------------


def _no_such_template(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    raise NoSuchEntity(f"The role template {params['TemplateArn']} does not exist.")


operation("GetRoleTemplateVersion", writes=False)(_no_such_template)
operation("AcquireRole")(_no_such_template)


# -- STS -----------------------------------------------------------------------------------

_ACCOUNT = re.compile(r"\d{12}")


@operation("AssumeRoot", service="sts")
def assume_root(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    target = str(params["TargetPrincipal"])
    account = target if _ACCOUNT.fullmatch(target) else ctx.account_id
    resource = f"arn:aws:iam::{account}:root"
    ctx.authorize(resource)
    # Allowed by the caller's policies, yet root sessions are an organization's feature,
    # which a standalone account never has: nothing else can allow it.
    ctx.refuse(resource)


@operation("GetDelegatedAccessToken", service="sts")
def get_delegated_access_token(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    raise ExpiredTradeInToken(str(ExpiredTradeInToken.__doc__))


@operation("GetScopedCredentials", service="sts")
def get_scoped_credentials(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    raise InvalidSubjectCredentials(str(InvalidSubjectCredentials.__doc__))
