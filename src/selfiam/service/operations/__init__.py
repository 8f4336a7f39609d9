"""Operation handlers, grouped by area. Importing this package registers them all."""

from selfiam.service import audit_log, offboarding, role_session_admin  # noqa: F401
from selfiam.service.operations import (  # noqa: F401
    access_keys,
    account,
    assume_role,
    authorization_details,
    credential_report,
    federation_token,
    groups,
    inline_policies,
    instance_profiles,
    login_profiles,
    managed_policies,
    mfa,
    oidc_providers,
    passkeys,
    password_policy,
    roles,
    service_linked_roles,
    signing_certificates,
    simulation,
    ssh_public_keys,
    sts,
    sts_info,
    users,
    web_identity,
)
