"""Open a Runtime from settings: the database (migrated), the master key, the clock."""

from __future__ import annotations

from selfiam.auth.secretbox import SecretBox
from selfiam.service.aws_policies import sync_aws_managed_policies
from selfiam.service.bootstrap import existing_account
from selfiam.service.runtime import Runtime
from selfiam.settings import Settings
from selfiam.store.engine import create_engine_for, read_transaction
from selfiam.store.migrate import upgrade_to_head


def open_runtime(settings: Settings) -> Runtime:
    """Connect, bring the schema to head and AWS's managed policies to the packaged
    dataset, and load (or create) the master key."""
    engine = create_engine_for(settings.database_url)
    upgrade_to_head(engine)
    sync_aws_managed_policies(engine)
    box = SecretBox.load_or_create(settings.master_key_file)
    runtime = Runtime(engine, box)
    runtime.saml_audience = settings.saml_audience
    runtime.public_url = settings.public_url
    runtime.start_feed()  # PostgreSQL: the change feed keeps caches right without a query
    return runtime


def account_of(runtime: Runtime) -> str | None:
    """The account this database serves, or None before ``selfiam init``."""
    with read_transaction(runtime.engine) as conn:
        return existing_account(conn)
