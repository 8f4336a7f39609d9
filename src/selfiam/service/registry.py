"""The table of operations: (service, operation name) -> handler.

A new IAM or STS operation is a handler function plus one ``@operation``
line; the API, the portal and the CLI all reach it through ``Runtime.invoke``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfiam.service.caller import RequestInfo
    from selfiam.service.context import OperationContext
    from selfiam.service.runtime import Runtime

Handler = Callable[["OperationContext", Mapping[str, Any]], dict[str, Any]]
#: Work an operation does before its transaction opens (network I/O that must not hold
#: a database lock): given the runtime, the parameters and the request's facts, it
#: returns the parameters the handler gets.
Prepare = Callable[["Runtime", Mapping[str, Any], "RequestInfo"], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Operation:
    service: str
    name: str
    handler: Handler
    writes: bool
    authorized: bool = True
    prepare: Prepare | None = None
    light: bool = False


_OPERATIONS: dict[tuple[str, str], Operation] = {}


def operation(
    name: str,
    *,
    service: str = "iam",
    writes: bool = True,
    authorized: bool = True,
    prepare: Prepare | None = None,
    light: bool = False,
) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of ``service:name``.

    ``writes=False`` marks a read-only operation, which runs in a read
    transaction (no write lock on SQLite). ``authorized=False`` is only for
    operations AWS never denies (sts:GetCallerIdentity); every other handler
    must call ``ctx.authorize`` first, and the runtime checks that it did. ``prepare``
    runs before the transaction (see ``Prepare``).

    ``light=True`` declares a write whose own work is a few indexed rows: no password
    hash, no key pair generated, no certificate, key or policy document parsed, nothing
    that grows with the request or the account (a cascade over a user's sessions, a
    report). On SQLite the API runs such a write on the event loop when it can take the
    write lock without waiting (``Runtime.write_session``'s ``wait``), as it runs reads:
    a write wrongly declared light stalls every other request while it runs, so the
    default keeps a write in the threadpool.
    """

    def register(fn: Handler) -> Handler:
        key = (service, name)
        if key in _OPERATIONS:
            raise RuntimeError(f"operation {service}:{name} registered twice")
        if light and (not writes or prepare is not None):
            raise RuntimeError(f"operation {service}:{name}: only a write without prepare is light")
        _OPERATIONS[key] = Operation(service, name, fn, writes, authorized, prepare, light)
        return fn

    return register


def find_operation(service: str, name: str) -> Operation | None:
    _load_operation_modules()
    return _OPERATIONS.get((service, name))


def registered_operations() -> list[Operation]:
    _load_operation_modules()
    return sorted(_OPERATIONS.values(), key=lambda op: (op.service, op.name))


_loaded = False


def _load_operation_modules() -> None:
    """Import every module that registers operations (once)."""
    global _loaded
    if _loaded:
        return
    from selfiam.service import operations  # noqa: F401  (registers by import)

    _loaded = True
