"""Every malformed request to the office API gets a clear 4xx and changes nothing.

Schemathesis generates the requests from the server's own OpenAPI description (where each event
type has its typed payload) and sends them to a real server process on loopback (SQLite and
PostgreSQL).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from sync.server import models as office_models
from tests.sync.support import Office

EXAMPLES = 30
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def counts(office: Office) -> tuple[int, ...]:
    database = office.database()
    with database.read() as session:
        found = tuple(
            session.scalar(select(func.count()).select_from(table))
            for table in (
                office_models.Kiosk,
                office_models.Event,
                office_models.Loan,
                office_models.Change,
                office_models.Conflict,
            )
        )
        used = session.scalar(
            select(func.count()).where(office_models.EnrollCode.used_by.is_not(None))
        )
    database.close()
    return (*found, used or 0)


@pytest.fixture
def enrolled_office(office: Office, make_kiosk) -> tuple[Office, str]:
    kiosk = make_kiosk()
    kiosk.client.enroll(office.url, office.enroll_code(), "kiosk-a")
    office.enroll_code()  # an unused code lies about: no malformed request may use it
    return office, (kiosk.folder / "sync-token").read_text().strip()


def operations(office: Office):
    schema = schemathesis.openapi.from_url(f"{office.url}/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in found} == {"/api/v1/enroll", "/api/v1/push", "/api/v1/changes"}
    return found


@pytest.mark.slow
def test_malformed_requests_are_refused_and_change_nothing(enrolled_office) -> None:
    office, token = enrolled_office
    before = counts(office)
    for operation in operations(office):

        @SETTINGS
        @given(case=operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))
        def send(case) -> None:
            # Schemathesis' own checks: no server error, invalid data rejected with a
            # documented 4xx (a "negative" case that serialises to a valid request may pass).
            response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                assert 400 <= response.status_code < 500, (case.body, response.text)
                assert response.json().get("detail"), response.text  # says what was wrong

        send()
    assert counts(office) == before


@pytest.mark.slow
def test_requests_without_a_valid_token_change_nothing(enrolled_office) -> None:
    office, _token = enrolled_office
    before = counts(office)
    for operation in operations(office):

        @SETTINGS
        @given(case=operation.as_strategy(schemathesis.GenerationMode.POSITIVE))
        def send(case) -> None:
            response = case.call(headers={"Authorization": "Bearer forged-token"})
            assert 400 <= response.status_code < 500, (case.body, response.text)
            assert response.json().get("detail")

        send()
    assert counts(office) == before


@pytest.mark.slow
def test_fuzzed_requests_never_break_the_office_and_a_refusal_changes_nothing(
    enrolled_office,
) -> None:
    """Valid and invalid requests alike, typed event payloads included: never a 5xx, every
    answer as the description says, and a 4xx leaves every row of the database as it was."""
    office, token = enrolled_office
    for operation in operations(office):
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @SETTINGS
            @given(case=operation.as_strategy(mode))
            def send(case) -> None:
                before = office.snapshot()
                response = case.call(headers={"Authorization": f"Bearer {token}"})
                assert response.status_code < 500, (case.body, response.text[:500])
                case.validate_response(
                    response,
                    checks=[
                        schemathesis.checks.not_a_server_error,
                        schemathesis.checks.status_code_conformance,
                        schemathesis.checks.content_type_conformance,
                        schemathesis.checks.response_schema_conformance,
                    ],
                )
                if response.status_code >= 400:
                    assert office.snapshot() == before, (case.body, response.text[:500])

            send()
