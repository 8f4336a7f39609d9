"""Operation handlers, grouped by area. Importing this package registers them all."""

from selfiam.service import audit_log, offboarding  # noqa: F401
from selfiam.service.operations import (  # noqa: F401
    access_keys,
    account,
    assume_role,
    authorization_details,
    credential_report,
    groups,
    inline_policies,
    login_profiles,
    managed_policies,
    mfa,
    password_policy,
    roles,
    saml_federation,
    saml_providers,
    signing_certificates,
    simulation,
    ssh_public_keys,
    sts,
    users,
)
