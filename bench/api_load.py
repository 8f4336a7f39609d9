"""API load: selfiam's IAM endpoint side by side with moto_server, over HTTP, in one run.

Run: ``.venv/bin/python bench/api_load.py`` (``--quick`` for a short run,
``--workers N`` to serve selfiam with N uvicorn worker processes, ``--postgres`` to serve it
from a new PostgreSQL database on the test suite's server instead of SQLite).

Both servers run as subprocesses on free loopback ports: selfiam (``selfiam init`` then
``selfiam serve``, SQLite in a temporary data directory, through the integration tests'
live-server harness) and ``moto_server``. Both are prepared the same way through boto3:
users ``bench`` (and ``bench-w0``..``bench-w7``, one per worker thread, for the access-key
scenario, since a user holds at most two keys) with an access key, in the ``SelfService``
group plus ``IAMReadOnlyAccess`` on selfiam, so every request is signature-checked and
authorized by the policy engine, with ``${aws:username}`` variables for the key writes.
Users are added until the account holds 1,000, for ListUsers. moto_server checks no
signatures and enforces no policies by default; it is measured as it ships.

Requests are SigV4-signed with botocore's ``SigV4Auth`` *before* the clock starts (a batch
per scenario; the DeleteAccessKey of a create/delete pair is signed as soon as the key id
is known) and sent over one keep-alive ``http.client`` connection per worker thread.
Client cost is kept out of the server's figures by reading the server process tree's CPU
time (utime + stime of the server and every descendant, from ``/proc``) before and after
each scenario.

Scenarios, at concurrency 1 and 8 (threads), each bounded in count and in time:

* GetUser (UserName=bench)
* ListAccessKeys (UserName=bench)
* CreateUser (signed by the admin; a new name per request, users kept on both servers)
* CreateAccessKey + DeleteAccessKey, one pair = one unit (each worker its own user)
* ListUsers with MaxItems=1000 over 1,000 users: every answer must hold all 1,000

Printed per server, scenario and concurrency: units/s, p50 and p99 latency (ms, the pair's
whole round trip for the pair scenario), server CPU ms per unit; then the ratios
selfiam/moto_server of the rates; the last line is the GetUser ratio at concurrency 8.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pyotp
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_support import (  # noqa: E402
    BENCH_USER,
    REGION,
    Conn,
    Result,
    Scenario,
    Signed,
    Target,
    Unit,
    expect,
    moto_server,
    run_scenario,
    selfiam_server,
    sign,
)

ASSUMER = "bench-assumer"
ROLE = "bench-role"
USERS_FOR_LIST = 1000
CONCURRENCIES = (1, 8)
READ_ONLY_ARN = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


# --- preparation -----------------------------------------------------------------------------


def prepare(target: Target, workers: int, fill_users: bool = True) -> None:
    iam = target.client()
    is_selfiam = target.name == "selfiam"

    def make_user(name: str) -> Credentials:
        iam.create_user(UserName=name)
        if is_selfiam:
            iam.add_user_to_group(GroupName="SelfService", UserName=name)
            iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY_ARN)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    target.bench_creds = make_user(BENCH_USER)
    target.worker_creds = [make_user(f"{BENCH_USER}-w{i}") for i in range(workers)]
    if is_selfiam:
        # SelfServiceCredentials lets a member manage their own keys only from an MFA
        # session, as AWS's example policy does: each worker user enrols a virtual MFA
        # device and signs the key scenario with GetSessionToken's credentials.
        target.worker_creds = [mfa_session(target, f"{BENCH_USER}-w{i}", creds)
                               for i, creds in enumerate(target.worker_creds)]
    prepare_role(target, iam)
    if fill_users:
        existing = _count_users(iam)
        missing = USERS_FOR_LIST - existing
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: iam.create_user(UserName=f"load-{i:04d}", Path="/load/"),
                          range(missing)))
        total = _count_users(iam)
        if total != USERS_FOR_LIST:
            raise RuntimeError(f"{target.name} holds {total} users, wanted {USERS_FOR_LIST}")
    # The bench user's own key works, and (on selfiam) really is policy-checked.
    me = _boto_as(target, target.bench_creds)
    me.get_user(UserName=BENCH_USER)
    if is_selfiam:
        session = _boto_as(target, target.worker_creds[0])
        try:
            session.create_access_key(UserName="load-0000")
        except session.exceptions.ClientError as err:
            assert err.response["Error"]["Code"] == "AccessDenied", err.response
        else:
            raise RuntimeError("selfiam let bench-w0 create a key for someone else")


def prepare_role(target: Target, iam: Any) -> None:
    """``bench-assumer`` (IAMReadOnlyAccess on selfiam, and no SelfService: its MFA deny
    would refuse AssumeRole to a long-term key) and ``bench-role``, whose trust policy
    names bench-assumer's ARN, with IAMReadOnlyAccess attached on selfiam; then one
    session of the role, whose credentials sign the role-session scenarios."""
    is_selfiam = target.name == "selfiam"
    assumer = iam.create_user(UserName=ASSUMER)["User"]
    if is_selfiam:
        iam.attach_user_policy(UserName=ASSUMER, PolicyArn=READ_ONLY_ARN)
    key = iam.create_access_key(UserName=ASSUMER)["AccessKey"]
    target.assumer_creds = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": assumer["Arn"]}, "Action": "sts:AssumeRole"}]}
    target.role_arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust),
                                      MaxSessionDuration=43200)["Role"]["Arn"]
    if is_selfiam:
        iam.attach_role_policy(RoleName=ROLE, PolicyArn=READ_ONLY_ARN)
    answer = _sts_as(target, target.assumer_creds).assume_role(
        RoleArn=target.role_arn, RoleSessionName="bench", DurationSeconds=43200)["Credentials"]
    target.role_creds = Credentials(answer["AccessKeyId"], answer["SecretAccessKey"],
                                    answer["SessionToken"])
    _boto_as(target, target.role_creds).get_user(UserName=BENCH_USER)
    if is_selfiam:  # the trust policy is enforced: bench is not in it
        try:
            _sts_as(target, target.bench_creds).assume_role(
                RoleArn=target.role_arn, RoleSessionName="refused")
        except ClientError as err:
            assert err.response["Error"]["Code"] == "AccessDenied", err.response
        else:
            raise RuntimeError("selfiam let bench assume a role whose trust omits it")


def _sts_as(target: Target, creds: Credentials | None) -> Any:
    assert creds is not None
    return boto3.client("sts", endpoint_url=target.endpoint, region_name=REGION,
                        aws_access_key_id=creds.access_key,
                        aws_secret_access_key=creds.secret_key,
                        aws_session_token=creds.token,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def mfa_session(target: Target, name: str, creds: Credentials) -> Credentials:
    """``name`` enrols a virtual MFA device and gets an MFA session (selfiam only)."""
    own = _boto_as(target, creds)
    device = own.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode())
    step = int(time.time()) // 30
    own.enable_mfa_device(UserName=name, SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=totp.at((step - 1) * 30),
                          AuthenticationCode2=totp.at(step * 30))
    sts = boto3.client("sts", endpoint_url=target.endpoint, region_name=REGION,
                       aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key)
    # The enabling codes are used up; the next step's code is accepted (one step ahead).
    session = sts.get_session_token(SerialNumber=device["SerialNumber"],
                                    TokenCode=totp.at((step + 1) * 30))["Credentials"]
    return Credentials(session["AccessKeyId"], session["SecretAccessKey"],
                       session["SessionToken"])


def _count_users(iam: Any) -> int:
    total = 0
    for page in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 1000}):
        total += len(page["Users"])
    return total


def _boto_as(target: Target, creds: Credentials) -> Any:
    return boto3.client("iam", endpoint_url=target.endpoint, region_name=REGION,
                        aws_access_key_id=creds.access_key,
                        aws_secret_access_key=creds.secret_key,
                        aws_session_token=creds.token,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


# --- scenarios -------------------------------------------------------------------------------




def simple_units(params: dict[str, str], what: str,
                 check: Callable[[bytes], str | None] | None = None,
                 creds: Callable[[Target], Credentials | None] = lambda t: t.bench_creds,
                 service: str = "iam",
                 per_request: Callable[[Target, int], dict[str, str]] | None = None):
    """One signed request per unit; ``per_request`` adds parameters that differ each time
    (an AssumeRole's session name)."""
    def make(target: Target, n_per_worker_total: tuple[int, int]) -> list[list[Unit]]:
        n, workers = n_per_worker_total
        signer = creds(target)
        assert signer is not None
        units: list[list[Unit]] = [[] for _ in range(workers)]
        for i in range(n):
            extra = per_request(target, i) if per_request is not None else {}
            signed = sign(target.endpoint, signer, {**params, **extra}, service)

            def unit(conn: Conn, signed: Signed = signed) -> str | None:
                status, body = conn.send(signed)
                err = expect(status, body, what)
                if err is None and check is not None:
                    err = check(body)
                return err

            units[i % workers].append(unit)
        return units
    return make


def key_pair_units(target: Target, n_workers: tuple[int, int]) -> list[list[Unit]]:
    n, workers = n_workers
    units: list[list[Unit]] = [[] for _ in range(workers)]
    for i in range(n):
        w = i % workers
        creds = target.worker_creds[w]
        user = f"{BENCH_USER}-w{w}"
        create = sign(target.endpoint, creds, {"Action": "CreateAccessKey", "UserName": user})

        def unit(conn: Conn, create: Signed = create, creds: Credentials = creds,
                 user: str = user) -> str | None:
            status, body = conn.send(create)
            err = expect(status, body, "CreateAccessKey")
            if err:
                return err
            m = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", body)
            if not m:
                return "CreateAccessKey: no AccessKeyId"
            delete = sign(target.endpoint, creds, {
                "Action": "DeleteAccessKey", "UserName": user, "AccessKeyId": m.group(1).decode()})
            status, body = conn.send(delete)
            return expect(status, body, "DeleteAccessKey")

        units[w].append(unit)
    return units


def check_all_users(body: bytes) -> str | None:
    found = body.count(b"<UserName>")
    if found != USERS_FOR_LIST or b"<IsTruncated>true</IsTruncated>" in body:
        return f"ListUsers returned {found} users, wanted all {USERS_FOR_LIST} in one page"
    return None



# --- main ------------------------------------------------------------------------------------


def scenarios(quick: bool) -> list[Scenario]:
    scale = 0.25 if quick else 1.0

    def n(x: int) -> int:
        return max(8, int(x * scale))

    return [
        Scenario("GetUser", n(2000), simple_units({"Action": "GetUser", "UserName": BENCH_USER},
                                                  "GetUser")),
        Scenario("ListAccessKeys", n(2000), simple_units(
            {"Action": "ListAccessKeys", "UserName": BENCH_USER}, "ListAccessKeys")),
        Scenario("CreateUser", n(800), simple_units(
            {"Action": "CreateUser"}, "CreateUser", _checked(b"<UserId>", "CreateUser"),
            creds=_as_admin, per_request=_new_user_name)),
        Scenario("CreateAccessKey+DeleteAccessKey", n(500), key_pair_units),
        Scenario("ListUsers(1000)", n(100), simple_units(
            {"Action": "ListUsers", "MaxItems": "1000"}, "ListUsers", check_all_users)),
        *role_scenarios(n),
    ]


#: CreateUser's names: unique across scenarios, concurrencies and servers' runs
_NEW_USERS = itertools.count()


def _new_user_name(_target: Target, _i: int) -> dict[str, str]:
    """A name never used before in this run (the users are kept: moto and selfiam alike)."""
    return {"UserName": f"new-{next(_NEW_USERS):05d}", "Path": "/new/"}


def _as_admin(t: Target) -> Credentials | None:
    return Credentials(t.admin_key, t.admin_secret)


def _as_role(t: Target) -> Credentials | None:
    return t.role_creds


def _as_assumer(t: Target) -> Credentials | None:
    return t.assumer_creds


def _assume(t: Target, i: int) -> dict[str, str]:
    return {"RoleArn": t.role_arn, "RoleSessionName": f"bench-{i}"}


def _checked(element: bytes, what: str) -> Callable[[bytes], str | None]:
    def check(body: bytes) -> str | None:
        return None if element in body else f"{what}: no {element.decode()} in the answer"
    return check


def role_scenarios(n: Callable[[int], int]) -> list[Scenario]:
    """Roles (issue 11): a role session's requests beside a user's, and AssumeRole beside
    GetSessionToken, both signed by bench-assumer's long-term key."""
    identity = {"Action": "GetCallerIdentity"}
    get_user = {"Action": "GetUser", "UserName": BENCH_USER}
    return [
        Scenario("GetUser(role session)", n(2000),
                 simple_units(get_user, "GetUser", creds=_as_role)),
        Scenario("GetCallerIdentity(user)", n(2000), simple_units(
            identity, "GetCallerIdentity", _checked(b":user/", "GetCallerIdentity"),
            creds=_as_assumer, service="sts")),
        Scenario("GetCallerIdentity(role session)", n(2000), simple_units(
            identity, "GetCallerIdentity", _checked(b":assumed-role/", "GetCallerIdentity"),
            creds=_as_role, service="sts")),
        Scenario("GetSessionToken", n(500), simple_units(
            {"Action": "GetSessionToken"}, "GetSessionToken",
            _checked(b"<SessionToken>", "GetSessionToken"), creds=_as_assumer, service="sts")),
        Scenario("AssumeRole", n(500), simple_units(
            {"Action": "AssumeRole"}, "AssumeRole", _checked(b"<AssumedRoleUser>", "AssumeRole"),
            creds=_as_assumer, service="sts", per_request=_assume)),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the requests, 15 s caps")
    ap.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "1")),
                    help="uvicorn worker processes for selfiam serve (default 1)")
    ap.add_argument("--time-cap", type=float, default=None,
                    help="seconds per scenario and concurrency (default 60, quick 15)")
    ap.add_argument("--only", default=None,
                    help="comma-separated scenario names to run (default: all)")
    ap.add_argument("--postgres", action="store_true",
                    help="serve selfiam from a new database on SELFIAM_TEST_POSTGRES_URL's "
                         "server (default SQLite)")
    args = ap.parse_args(argv)
    chosen = [sc for sc in scenarios(args.quick)
              if not args.only or sc.name in args.only.split(",")]
    cap = args.time_cap or (15.0 if args.quick else 60.0)
    print(f"api_load: nproc {os.cpu_count()}, python {sys.version.split()[0]}, "
          f"time cap {cap:.0f} s per run", flush=True)

    results: list[Result] = []
    tmp = Path(tempfile.mkdtemp(prefix="selfiam-api-load-"))
    try:
        with (selfiam_server(tmp, args.workers, args.postgres) as selfiam,
              moto_server(tmp) as moto):
            for target in (selfiam, moto):
                t0 = time.perf_counter()
                prepare(target, max(CONCURRENCIES),
                        fill_users=any(sc.name.startswith("ListUsers") for sc in chosen))
                print(f"  prepared {target.name} ({target.config}) in "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)
            for scenario in chosen:
                for concurrency in CONCURRENCIES:
                    for target in (selfiam, moto):
                        r = run_scenario(target, scenario, concurrency, scenario.count, cap)
                        results.append(r)
                        print(f"  {r.server:<12} {r.scenario:<32} c={r.concurrency} "
                              f"{r.units:>5} units {r.rate:>8.1f}/s  p50 {r.pct(0.5):7.2f} ms  "
                              f"p99 {r.pct(0.99):7.2f} ms  cpu {r.cpu_ms:7.2f} ms/unit"
                              + (f"  new PG sessions {r.sessions}" if r.sessions is not None else "")
                              + (f"  ERRORS {r.errors}: {r.first_error}" if r.errors else ""),
                              flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"selfiam: {selfiam.config}; moto_server: {moto.config}")
    header = (f"{'server':<12} {'scenario':<32} {'conc':>4} {'units/s':>9} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'cpu ms/unit':>11} {'errors':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.server:<12} {r.scenario:<32} {r.concurrency:>4} {r.rate:>9.1f} "
              f"{r.pct(0.5):>8.2f} {r.pct(0.99):>8.2f} {r.cpu_ms:>11.2f} {r.errors:>6}")
    print()
    print("ratios selfiam/moto_server (units/s; cpu = moto's cpu per unit / selfiam's)")
    by = {(r.server, r.scenario, r.concurrency): r for r in results}
    final = float("nan")
    for scenario in chosen:
        for c in CONCURRENCIES:
            s, m = by[("selfiam", scenario.name, c)], by[("moto_server", scenario.name, c)]
            ratio = s.rate / m.rate if m.rate else float("nan")
            cpu = m.cpu_ms / s.cpu_ms if s.cpu_ms else float("nan")
            print(f"  {scenario.name:<32} c={c}  rate x{ratio:6.1f}   cpu x{cpu:6.1f}")
            if scenario.name == "GetUser" and c == 8:
                final = ratio
    names = {sc.name for sc in chosen}
    writes_summary(by, names)
    if {"GetUser(role session)", "AssumeRole"} & names:
        roles_summary(by, names)
    failed = sum(r.errors for r in results)
    if failed:
        print(f"api_load: {failed} requests failed (see ERRORS above)")
    print(f"api_load: GetUser selfiam/moto_server ratio {final:.1f} at concurrency 8")
    return 1 if failed else 0


WRITES = ("CreateUser", "CreateAccessKey+DeleteAccessKey", "AssumeRole")


def writes_summary(by: dict[tuple[str, str, int], Result], names: set[str]) -> None:
    """Issue 14's goals for writes: at least 3x moto_server, and (SQLite) p99 under 50 ms
    at concurrency 8."""
    chosen = [w for w in WRITES if w in names]
    if not chosen:
        return
    print()
    print("writes (goal: rate >= 3x moto_server; on SQLite p99 < 50 ms at c=8)")
    for w in chosen:
        for c in CONCURRENCIES:
            s, m = by[("selfiam", w, c)], by[("moto_server", w, c)]
            ratio = s.rate / m.rate if m.rate else float("nan")
            print(f"  {w:<32} c={c} x{ratio:5.2f} {'met' if ratio >= 3 else 'MISSED':<6} "
                  f"selfiam p50 {s.pct(0.5):6.2f} p99 {s.pct(0.99):7.2f} ms "
                  f"cpu {s.cpu_ms:5.2f} ms; moto p50 {m.pct(0.5):6.2f} p99 {m.pct(0.99):7.2f} ms "
                  f"cpu {m.cpu_ms:5.2f} ms")


def one_evaluation_ms(repeats: int = 2000) -> float:
    """The median time of the policy decision AssumeRole adds to GetSessionToken: the role's
    trust policy (naming the caller) with the caller's identity policies, parsed once, as
    the server holds them (in this process: the engine alone, no server)."""
    from selfiam.policy import (
        PolicyKind,
        PolicySet,
        Request,
        RequestContext,
        evaluate,
        parse_policy,
    )

    user = "arn:aws:iam::123456789012:user/bench-assumer"
    trust = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": user}, "Action": "sts:AssumeRole"}]}),
        kind=PolicyKind.TRUST, policy_id="trust")
    read_only = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "iam:Generate*"],
        "Resource": "*"}]}), kind=PolicyKind.MANAGED, policy_id="IAMReadOnlyAccess")
    request = Request(action="sts:AssumeRole",
                      resource="arn:aws:iam::123456789012:role/bench-role",
                      context=RequestContext({"aws:username": "bench-assumer",
                                              "aws:PrincipalArn": user}))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate(request, identity=PolicySet([read_only]), boundary=None, session=None,
                 resource_policy=trust)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1000


def roles_summary(by: dict[tuple[str, str, int], Result], names: set[str]) -> None:
    """The two goals of issue 11, on selfiam's server CPU per request."""
    print()
    print("roles (server CPU ms per request, selfiam; moto_server implements AssumeRole "
          "without enforcing trust policies, and checks no signatures)")
    for c in CONCURRENCIES:
        for role, user in (("GetUser(role session)", "GetUser"),
                           ("GetCallerIdentity(role session)", "GetCallerIdentity(user)")):
            if {role, user} <= names:
                r, u = by[("selfiam", role, c)], by[("selfiam", user, c)]
                ratio = r.cpu_ms / u.cpu_ms if u.cpu_ms else float("nan")
                print(f"  c={c} {role:<32} {r.cpu_ms:6.2f} ms vs {user:<24} {u.cpu_ms:6.2f} ms:"
                      f" x{ratio:4.2f} (goal <= 1.30: {'met' if ratio <= 1.3 else 'MISSED'})")
        if {"AssumeRole", "GetSessionToken"} <= names:
            a, g = by[("selfiam", "AssumeRole", c)], by[("selfiam", "GetSessionToken", c)]
            evaluation = one_evaluation_ms()
            goal = g.cpu_ms + evaluation
            print(f"  c={c} AssumeRole {a.cpu_ms:6.2f} ms vs GetSessionToken {g.cpu_ms:6.2f} ms "
                  f"+ one evaluation {evaluation:5.3f} ms = {goal:6.2f} ms "
                  f"(goal: {'met' if a.cpu_ms <= goal else 'MISSED'}, "
                  f"x{a.cpu_ms / g.cpu_ms if g.cpu_ms else float('nan'):4.2f} GetSessionToken)")


if __name__ == "__main__":
    sys.exit(main())
