"""Helpers for the findings tests: a tiny book in the database and a fake catalogue and engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from custos.book.models import BookLoad, Branch, Party, Policy


@dataclass(frozen=True)
class FakeCheck:
    code: str
    category: str
    severity: str
    roles: tuple = ("applicant", "insured", "beneficiary")
    fields: tuple = ()
    message_zh: str = "测试说明"
    message_en: str = "test explanation"
    basis: str = "M82"
    params: dict = field(default_factory=dict)


CHECKS = [
    FakeCheck("ID01", "missing", "high", fields=("id_no",), message_zh="证件号码为空", message_en="ID empty"),
    FakeCheck(
        "ID03", "false", "high", fields=("id_no",), message_zh="校验位错误", message_en="Bad check digit"
    ),
    FakeCheck(
        "PH02", "false", "high", fields=("mobile",), message_zh="手机号无效", message_en="Invalid mobile"
    ),
    FakeCheck("PH06", "suspicious", "high", fields=("mobile",)),
    FakeCheck("SC04", "missing", "medium", roles=("policy",), fields=("policy",)),
]


class FakeSettings:
    """Like CheckSettings: `enabled` is a frozenset of codes."""

    def __init__(self, disabled=()):
        self.enabled = frozenset(c.code for c in CHECKS) - set(disabled)

    @property
    def disabled(self):
        return {c.code for c in CHECKS} - self.enabled

    def as_dict(self):
        return {"disabled": sorted(self.disabled)}

    def fingerprint(self):
        return "fp-" + "-".join(sorted(self.disabled))


def findings_table(rows) -> pa.Table:
    """rows: (check, policy_no, role, seq, field, value)."""
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 6
    return pa.table(
        {
            "check": pa.array(cols[0], pa.string()),
            "policy_no": pa.array(cols[1], pa.string()),
            "role": pa.array(cols[2], pa.string()),
            "seq": pa.array(cols[3], pa.int32()),
            "field": pa.array(cols[4], pa.string()),
            "value": pa.array(cols[5], pa.string()),
        }
    )


def make_load(tmp_path, name="book") -> BookLoad:
    snap = tmp_path / f"snap-{name}"
    snap.mkdir(parents=True, exist_ok=True)
    return BookLoad.objects.create(source_name=name, sha256="0" * 64, status="done", snapshot_path=str(snap))


BRANCHES = [
    ("HO", "", "head", "/HO/"),
    ("GD", "HO", "province", "/HO/GD/"),
    ("GZ", "GD", "city", "/HO/GD/GZ/"),
    ("SZ", "GD", "city", "/HO/GD/SZ/"),
    ("BJ", "HO", "province", "/HO/BJ/"),
]

# policy_no, channel, branch, agent, partner
POLICIES = [
    ("P1", "bancassurance", "GZ", "A1", "BANK1"),
    ("P2", "bancassurance", "SZ", "A2", "BANK1"),
    ("P3", "agency", "GZ", "A1", ""),
    ("P4", "agency", "BJ", "A3", ""),
]


def make_book(load: BookLoad, policies=POLICIES) -> None:
    for code, parent, level, path in BRANCHES:
        Branch.objects.get_or_create(
            branch_code=code,
            defaults=dict(
                name=code, parent_code=parent, level=level, path=path, first_load=load, last_load=load
            ),
        )
    for no, channel, branch, agent, partner in policies:
        Policy.objects.create(
            policy_no=no,
            channel=channel,
            branch_code=branch,
            agent_no=agent,
            partner_code=partner,
            status="in_force",
            first_load=load,
            last_load=load,
        )
        for role in ("applicant", "insured"):
            Party.objects.create(
                policy_no=no,
                role=role,
                seq=1,
                name="张三丰",
                id_no="440106199001011234",
                mobile="13812345678",
                first_load=load,
                last_load=load,
            )
        Party.objects.create(
            policy_no=no, role="beneficiary", seq=1, name="李四", first_load=load, last_load=load
        )


def install_fakes(monkeypatch, results):
    """Patch the services' catalogue and engine; `results` is a list the fake engine pops from (front)."""
    from custos.checks import services

    monkeypatch.setattr(services, "catalogue", lambda: list(CHECKS))
    monkeypatch.setattr(services, "catalogue_by_code", lambda: {c.code: c for c in CHECKS})
    monkeypatch.setattr(services, "default_settings", lambda: FakeSettings())
    calls = []

    def fake_engine(snapshot_dir, *, engine, settings, progress, spark_master):
        calls.append({"snapshot_dir": snapshot_dir, "engine": engine, "settings": settings})
        if progress:
            progress(50, "running checks")
            progress(100, "done checking")
        return results.pop(0)

    monkeypatch.setattr(services, "engine_run", fake_engine)
    return calls


# --- users of each scope --------------------------------------------------------------------------

FINDINGS = [
    ("ID03", "P1", "applicant", 1, "id_no", "440106199001011235"),  # bancassurance GZ A1 BANK1 (false)
    ("PH02", "P1", "applicant", 1, "mobile", "13812345678"),  # same party (false)
    ("ID01", "P2", "insured", 1, "id_no", ""),  # bancassurance SZ A2 BANK1 (missing)
    ("PH06", "P3", "applicant", 1, "mobile", "13800000000"),  # agency GZ A1 (suspicious)
    ("SC04", "P4", "policy", 0, "policy", ""),  # agency BJ A3 (missing)
]


def make_user(django_user_model, username, role, **scope):
    from custos.access.models import Profile

    user = django_user_model.objects.create_user(username)  # no password: no argon2 cost
    Profile.objects.create(user=user, role=role, **scope)
    return user


def token_for(user) -> str:
    from custos.api.models import ApiToken

    return ApiToken.issue(user, "test")[1]


def open_finding(
    run, policy_no, role="applicant", seq=1, code="PH03", field="mobile", value="13800138000", **kw
):
    """An open false finding of `run` on a policy already in the database, carrying that policy's
    channel, branch, agent and outlet as the engine would."""
    from django.utils import timezone

    from custos.checks.models import Finding

    p = Policy.objects.get(policy_no=policy_no)
    return Finding.objects.create(
        check_code=code,
        policy_no=policy_no,
        role=role,
        seq=seq,
        field=field,
        category=kw.pop("category", "false"),
        severity=kw.pop("severity", "high"),
        value=value,
        opened_run=run,
        last_seen_run=run,
        opened_at=timezone.now(),
        channel=p.channel,
        branch_code=p.branch_code,
        agent_no=p.agent_no,
        partner_code=p.partner_code,
        **kw,
    )
