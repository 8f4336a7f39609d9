"""Action, Resource and StringLike-style patterns, compiled once and cached.

The wildcard matching itself is `globs` (linear time, no backtracking): these classes
validate a policy's text, turn it into an escaped glob (see `variables`) and pick the
cheapest matcher for its shape, remembering answers where requests repeat themselves.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selfiam.policy.arns import ContextMatcher, head_of, variable_matcher
from selfiam.policy.context import RequestContext
from selfiam.policy.errors import (
    IAM_RESOURCE_PATH,
    IAM_RESOURCE_TYPES,
    LEGACY_PARSING,
    NO_VENDOR,
    ONE_COLON,
    RESOURCE_VENDOR,
    VENDOR_WILDCARD,
    MalformedPolicyError,
    iam_region,
    not_an_arn,
    partition_not_valid,
    s3_region,
    vendor_not_valid,
)
from selfiam.policy.globs import (
    STAR,
    Matcher,
    always,
    compile_arn_glob,
    compile_glob,
    literal_text,
    tokens,
)
from selfiam.policy.variables import Template, policy_text_to_glob

__all__ = [
    "ActionPattern",
    "Matcher",
    "ResourcePattern",
    "StringPattern",
    "action_pattern",
    "compile_arn_glob",
    "compile_glob",
    "resource_pattern",
]


def _literal_or_star(globs: list[str]) -> list[str | None] | None:
    """Each glob's literal text, or None for a lone `*`; None if some glob is neither."""
    out: list[str | None] = []
    for glob in globs:
        if tokens(glob) == [STAR]:
            out.append(None)
            continue
        text = literal_text(glob)
        if text is None:
            return None
        out.append(text)
    return out


_MEMO_LIMIT = 4096


class _Memo(dict[str, bool]):
    """A matcher's answers by value, computed on a miss; cleared when it grows too big."""

    __slots__ = ("match",)

    def __init__(self, match: Matcher) -> None:
        super().__init__()
        self.match = match

    def __missing__(self, value: str) -> bool:
        hit = self.match(value)
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        self[value] = hit
        return hit


def _memoized(match: Matcher) -> Matcher:
    """Remember a matcher's answers: requests repeat the same actions and resources.

    The matcher is the dict's own `__getitem__`, so a value seen before costs one C call.
    """
    return _Memo(match).__getitem__


class StringPattern:
    """StringLike-style matching: `*` any run, `?` one character, whole string."""

    __slots__ = ("text", "ignore_case", "_match")

    def __init__(self, text: str, ignore_case: bool = False) -> None:
        self.text = text
        self.ignore_case = ignore_case
        self._match = compile_glob(policy_text_to_glob(text), ignore_case)

    def matches(self, value: str) -> bool:
        return self._match(value)

    def __repr__(self) -> str:
        return f"StringPattern({self.text!r}, ignore_case={self.ignore_case})"


#: A vendor as IAM accepts it: "Vendor <v> is not valid" for any other character.
_VENDOR = re.compile(r"[A-Za-z0-9.-]+")


class ActionPattern:
    """An Action/NotAction entry: "*" or "vendor:name", name may use `*` and `?`.

    Matching is case-insensitive (AWS: action names are not case-sensitive). IAM checks
    only the vendor's characters; the name may hold anything but a colon, spaces included
    (moto's table of IAM's answers: "iam: asdf safdsf af " is a valid Action). Such a name
    is kept as written and, naming no real action, matches none.
    """

    __slots__ = ("text", "service", "is_wildcard", "_lowered", "_match")

    def __init__(self, text: str) -> None:
        self.text = text
        if text == "*":
            self.service: str = "*"
            self.is_wildcard = True
            self._lowered = "*"
            self._match: Matcher = always
            return
        service, sep, name = text.partition(":")
        if not sep:
            raise MalformedPolicyError(
                f"Action {text!r}: Actions/Conditions must be prefaced by a vendor, "
                "e.g., iam, sdb, ec2, etc.",
                NO_VENDOR,
            )
        if ":" in name:
            raise MalformedPolicyError(
                f"Action {text!r}: an action is vendor:name, with one colon.", ONE_COLON
            )
        if "*" in service or "?" in service:
            raise MalformedPolicyError(
                f"Action {text!r}: the vendor {service!r} cannot hold a wildcard; write one "
                'statement per service, or "*".',
                VENDOR_WILDCARD,
            )
        if not _VENDOR.fullmatch(service):
            raise MalformedPolicyError(
                f"Action {text!r}: vendor {service!r} is not valid; it must be a service "
                "prefix such as iam, s3 or ec2.",
                vendor_not_valid(service),
            )
        service = service.lower()
        self.service = service
        self.is_wildcard = "*" in name or "?" in name
        self._lowered = text.lower()
        glob = compile_glob(policy_text_to_glob(self._lowered), False)
        self._match = _memoized(lambda action: glob(action.lower()))

    def matches(self, action: str) -> bool:
        """Whether the request's action (e.g. "iam:CreateAccessKey") matches."""
        return self._match(action)

    def __repr__(self) -> str:
        return f"ActionPattern({self.text!r})"


#: AWS's partitions (botocore's endpoints data); "*" matches any.
PARTITIONS = frozenset(
    {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}
)


def _resource_error(text: str, aws_message: str | None = None) -> MalformedPolicyError:
    return MalformedPolicyError(
        f'Resource {text} must be in ARN format or "*".', aws_message or not_an_arn(text)
    )


#: S3's resource types that do live in a region (its other ARNs, buckets and objects, have
#: none); a leading wildcard may stand for one of them.
_S3_REGIONAL = ("accesspoint/", "job/", "storage-lens/", "async-request/", "access-grants/", "*")


def check_resource(text: str, fields: list[str]) -> None:
    """IAM's checks of a Resource's ARN form (moto's table of IAM's answers), in its order:
    a colon, a partition, a vendor, then no region and a resource type in IAM's ARNs."""
    if len(fields) < 2:
        raise _resource_error(text)
    partition = fields[1]
    if partition not in PARTITIONS and "*" not in partition and "?" not in partition:
        raise MalformedPolicyError(
            f"Resource {text}: partition {partition!r} is not an AWS partition.",
            partition_not_valid(partition, text),
        )
    if fields[0] != "arn":
        raise _resource_error(text)
    if len(fields) < 3:
        raise _resource_error(text, RESOURCE_VENDOR)
    if fields[2] == "" or (len(fields) < 6 and "::" in text and not text.endswith("*")):
        raise _resource_error(text, LEGACY_PARSING)  # no service, or empty fields cut short
    if fields[2] == "iam" and len(fields) >= 4 and fields[3] != "":
        raise MalformedPolicyError(
            f"Resource {text}: IAM is global, its ARNs have no region (the fourth field "
            "must be empty).",
            iam_region(text),
        )
    if (
        fields[2] == "s3"
        and len(fields) == 6
        and fields[3] != ""
        and not any(c in fields[3] for c in "*?$")  # a pattern may match "": not recorded
        and not fields[5].startswith(_S3_REGIONAL)
    ):
        raise MalformedPolicyError(
            f"Resource {text}: a bucket's or an object's ARN has no region (the fourth "
            "field must be empty).",
            s3_region(text),
        )
    if fields[2] == "iam" and len(fields) == 6:
        resource = fields[5]
        # "root" is no type in IAM's recorded list, yet AWS's own managed policies
        # (IAMAuditRootUserCredentials, ...) name arn:aws:iam::*:root.
        if resource not in ("*", "root") and not resource.startswith(IAM_RESOURCE_TYPES):
            raise MalformedPolicyError(
                f"Resource {text}: an IAM ARN names a user/, role/, group/, policy/, "
                "instance-profile/, mfa/ (...) resource, or *.",
                IAM_RESOURCE_PATH,
            )


class ResourcePattern:
    """A Resource/NotResource entry: "*" or an ARN pattern, maybe with policy variables.

    Variables are substituted only in the resource part (after the fifth
    colon), as AWS documents; elsewhere `${...}` is literal text.
    """

    __slots__ = ("text", "variable_keys", "_template", "_prefix", "_match", "_rendered", "match")

    def __init__(self, text: str, variables_enabled: bool) -> None:
        self.text = text
        self._template: Template | None = None
        self._prefix = ""
        self._rendered: dict[str, Matcher] = {}
        self.variable_keys: tuple[str, ...] = ()
        #: `matches` itself, or a faster function with its signature and answers.
        self.match: ContextMatcher = self._general
        if text == "*":
            self._match: Matcher | None = always
            return
        fields = text.split(":", 5)
        check_resource(text, fields)
        if len(fields) < 6:  # "arn:aws:s3:*", or "arn:aws:x" (IAM accepts it; it names nothing)
            self._match = compile_arn_glob(policy_text_to_glob(text))
            return
        template = Template.parse(fields[5], variables_enabled)
        head = [policy_text_to_glob(f) for f in fields[:5]]
        self._prefix = ":".join(head) + ":"
        if template.static_glob is not None:
            self._match = _memoized(compile_arn_glob(self._prefix + template.static_glob))
            return
        self._match = None
        self._template = template
        self.variable_keys = template.variable_keys
        # The common shape: literal text around variables (see `arns`).
        pieces = template.literal_pieces()
        if pieces is not None:
            matchers = [compile_glob(f) for f in head]
            known = _literal_or_star(head)
            self.match = variable_matcher(head_of(known, matchers), *pieces, self._general)

    @property
    def static_match(self) -> Matcher | None:
        """The matcher taking the ARN alone, when the pattern has no variable."""
        return self._match

    def matches(self, resource: str, ctx: RequestContext, missing: set[str] | None = None) -> bool:
        """Whether `resource` (an ARN) matches; a variable without a value never matches."""
        return self.match(resource, ctx, missing)

    def _general(self, resource: str, ctx: RequestContext, missing: set[str] | None = None) -> bool:
        if self._match is not None:
            return self._match(resource)
        assert self._template is not None
        rendered = self._template.render_glob(ctx, missing)
        if rendered is None:
            return False
        match = self._rendered.get(rendered)
        if match is None:
            match = compile_arn_glob(self._prefix + rendered)
            if len(self._rendered) >= _MEMO_LIMIT:
                self._rendered.clear()
            self._rendered[rendered] = match
        return match(resource)

    def __repr__(self) -> str:
        return f"ResourcePattern({self.text!r})"


@lru_cache(maxsize=4096)
def action_pattern(text: str) -> ActionPattern:
    """A cached ActionPattern (patterns are immutable, so sharing is safe)."""
    return ActionPattern(text)


@lru_cache(maxsize=4096)
def resource_pattern(text: str, variables_enabled: bool) -> ResourcePattern:
    """A cached ResourcePattern."""
    return ResourcePattern(text, variables_enabled)
