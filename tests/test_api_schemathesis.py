"""Property tests of the REST API against its own OpenAPI schema (schemathesis): for every operation,
up to 20 generated requests with a compliance token on the small book — no 500s, every response
conforming to the schema (status code documented, content type and body valid).

Every router is in, extractions and remediation included."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from custos.access.models import Role
from custos.api.models import ApiToken
from tests.conftest import build_small_book, make_user

with override_settings(CUSTOS_API_DOCS_PUBLIC=True):  # the schema is behind sign-in otherwise
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling Django's WSGI handler directly (as schemathesis does) fires request_started and
    request_finished, whose close_old_connections closes any connection whose autocommit differs from
    the setting — inside the test's transaction on PostgreSQL that is the test's own connection, and
    every later query fails with "the connection is closed" (SQLite's in-memory test database ignores
    the close). Django's test client disconnects the same handler around each request; do as it does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_token(db):
    build_small_book()
    user = make_user("schema", Role.COMPLIANCE)
    return ApiToken.issue(user, "schemathesis")[1]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, api_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"}, checks=CHECKS)
