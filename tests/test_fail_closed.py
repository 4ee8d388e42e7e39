"""When the audit log cannot take an entry, nothing is changed or shown and the answer is a 503 that
says so: custos.web.middleware.FailClosedMiddleware, the net under every page."""

import pytest

from custos.access.models import Profile, Role
from custos.audit.models import AuditEntry
from custos.crypto import keyring
from tests.conftest import make_user
from tests.test_audit_record import _block_inserts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keys(custos_home, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with keyring.editing() as data:
        keyring.ensure_data_keys(data)


def test_a_change_that_cannot_be_recorded_is_a_503_and_changes_nothing(client):
    admin = make_user("root", None)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    target = make_user("li", Role.AGENT, staff_no="A1")
    profile = Profile.objects.get(user=target)
    client.force_login(admin)
    _block_inserts(AuditEntry._meta.db_table)
    r = client.post(
        f"/admin/access/profile/{profile.pk}/change/",
        {
            "user": target.pk,
            "role": Role.COMPLIANCE,
            "staff_no": "A1",
            "branch_code": "",
            "channel": "",
            "partner_code": "",
        },
    )
    assert r.status_code == 503
    assert "无法写入审计日志" in r.content.decode()
    profile.refresh_from_db()
    assert profile.role == Role.AGENT
