"""Errors raised by the pure policy core (it imports nothing else of selfiam).

Every error carries two texts. ``message`` is selfiam's precise explanation (the
statement, the element, why), for the people who read it: ``selfiam policy validate`` /
``lint`` and the portal's policy editor. ``aws_message`` is the words IAM answers
MalformedPolicyDocument with for the same kind of mistake, which the API returns so that a
program comparing selfiam's answer with AWS's sees the same text.

AWS's messages, per kind of failure. Sources: moto's table of answers recorded from IAM's
CreatePolicy (getmoto/moto ``tests/test_iam/test_iam_policies.py`` and
``moto/iam/policy_validation.py``), and errors quoted from AWS in terraform-aws-modules
issues #39 (partition), aws/aws-cdk issues #13104 and #22445 (region), 99designs/iamy #65
(legacy parsing):

======================================  ===============================================
kind                                    AWS's message
======================================  ===============================================
not JSON, wrong type, unknown element,  ``Syntax errors in policy.``
missing Effect/Statement, bad Version
value, Action and NotAction together
Version missing or 2008-10-17 where     ``Policy document must be version 2012-10-17 or
2012-10-17 is required (CreatePolicy,   greater.``
CreatePolicyVersion)
Effect in the wrong case, bad date      ``The policy failed legacy parsing``
in a Date condition
no Action / NotAction, or an empty one  ``Policy statement must contain actions.``
no Resource / NotResource, or empty     ``Policy statement must contain resources.``
Principal in an identity policy         ``Policy document should not specify a
                                        principal.``
no Principal in a trust policy          ``Missing required field Principal.``
Resource in a trust policy              ``Has prohibited field Resource.``
a Sid used twice                        ``Statement IDs (SID) in a single policy must be
                                        unique.``
a Sid with other characters             ``Statement IDs (SID) must be alpha-numeric. Check
                                        that your input satisfies the regular expression
                                        [0-9A-Za-z]*``
an action without ``vendor:``           ``Actions/Conditions must be prefaced by a vendor,
                                        e.g., iam, sdb, ec2, etc.``
an action with two colons               ``Actions/Condition can contain only one colon.``
a wildcard in a vendor                  ``Action vendors (e.g., aws, ec2, etc.) must not
                                        contain wildcards``
a vendor with other characters          ``Vendor <vendor> is not valid``
a resource that is not an ARN           ``Resource <r> must be in ARN format or "*".``
an unknown partition                    ``Partition "<p>" is not valid for resource
                                        "arn:<p>:...".``
a region in an IAM ARN                  ``IAM resource <r> cannot contain region
                                        information.``
a region in a bucket's or object's ARN  ``Resource <r> can not contain region
                                        information.``
an IAM ARN of no IAM resource type      ``IAM resource path must either be "*" or start
                                        with user/, federated-user/, ...``
a principal IAM does not know           ``Invalid principal in policy: "AWS":"<value>"``
======================================  ===============================================
"""

from __future__ import annotations

SYNTAX_ERRORS = "Syntax errors in policy."
VERSION_REQUIRED = "Policy document must be version 2012-10-17 or greater."
LEGACY_PARSING = "The policy failed legacy parsing"
NO_ACTIONS = "Policy statement must contain actions."
NO_RESOURCES = "Policy statement must contain resources."
NO_PRINCIPAL_ALLOWED = "Policy document should not specify a principal."
PRINCIPAL_REQUIRED = "Missing required field Principal."
RESOURCE_PROHIBITED = "Has prohibited field Resource."
SID_NOT_UNIQUE = "Statement IDs (SID) in a single policy must be unique."
SID_NOT_ALPHANUMERIC = (
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
    "regular expression [0-9A-Za-z]*"
)
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
#: Quoted from IAM in boogy/iam-policy-validator pull request #172 ("*:Untag*").
VENDOR_WILDCARD = "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards"
ONE_COLON = "Actions/Condition can contain only one colon."
RESOURCE_VENDOR = "Resource vendor must be fully qualified and cannot contain regexes."
#: IAM's resource types, in the order AWS lists them.
IAM_RESOURCE_TYPES = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)
IAM_RESOURCE_PATH = (
    'IAM resource path must either be "*" or start with ' + ", ".join(IAM_RESOURCE_TYPES) + "."
)


def vendor_not_valid(vendor: str) -> str:
    return f"Vendor {vendor} is not valid"


def not_an_arn(resource: str) -> str:
    return f'Resource {resource} must be in ARN format or "*".'


def iam_region(resource: str) -> str:
    return f"IAM resource {resource} cannot contain region information."


def s3_region(resource: str) -> str:
    """Quoted from AWS in aws/aws-cdk issue #22445 (and moto's table)."""
    return f"Resource {resource} can not contain region information."


def partition_not_valid(partition: str, resource: str) -> str:
    """AWS names the resource with its missing fields shown as ``*``."""
    rest = resource.split(":", 2)[2].split(":") if resource.count(":") >= 2 else [""]
    fields = [rest[0] if rest[0] != "" or len(rest) > 1 else "*"]
    fields.append(rest[1] if len(rest) > 1 else "*")
    fields.append(rest[2] if len(rest) > 2 else "*")
    fields.append(":".join(rest[3:]) if len(rest) > 3 else "*")
    return (
        f'Partition "{partition}" is not valid for resource "arn:{partition}:{":".join(fields)}".'
    )


_ACTION_MESSAGES = (NO_VENDOR, ONE_COLON, VENDOR_WILDCARD)
_RESOURCE_PREFIXES = ("Resource ", "Partition ", "IAM resource ")


def phase(aws_message: str) -> int:
    """When IAM finds this kind of mistake: it reports the earliest over the whole document.

    The order of IAM's checks, as moto's record of IAM's answers shows it: syntax (1), the
    Version rule (2), the legacy parser (3: Effect's case, dates, empty ARN fields), unique
    Sids (4), actions present (5), the resources' ARNs (6), the actions' vendors (7), the
    resources present (8); the rest (principals, Sid characters) last.
    """
    if aws_message == SYNTAX_ERRORS:
        return 1
    if aws_message == VERSION_REQUIRED:
        return 2
    if aws_message == LEGACY_PARSING:
        return 3
    if aws_message == SID_NOT_UNIQUE:
        return 4
    if aws_message == NO_ACTIONS:
        return 5
    if aws_message == RESOURCE_VENDOR or (
        aws_message.startswith(_RESOURCE_PREFIXES) and aws_message != RESOURCE_PROHIBITED
    ):
        return 6
    if aws_message in _ACTION_MESSAGES or aws_message.startswith("Vendor "):
        return 7
    if aws_message == NO_RESOURCES:
        return 8
    return 9


class MalformedPolicyError(ValueError):
    """A policy document IAM would reject with MalformedPolicyDocument.

    ``message`` says what is wrong and where (statement index or Sid, element), in words
    fit to show a user; ``aws_message`` is what IAM answers (see the table above).
    """

    def __init__(self, message: str, aws_message: str = SYNTAX_ERRORS) -> None:
        super().__init__(message)
        self.message = message
        self.aws_message = aws_message

    def located(self, where: str) -> MalformedPolicyError:
        """The same error, its explanation followed by where it is."""
        return MalformedPolicyError(f"{self.message} ({where})", self.aws_message)
