"""Response models: unknown fields kept, timestamps made aware, api_id and run_id exposed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest
import respx

from plivo_phlo_async import (
    ActionResult,
    CallCreateResult,
    MultiPartyCallDetails,
    PhloClient,
    PhloDetails,
    PhloRun,
    PhloRunResult,
    PlivoObject,
)

PHLO_ID = "73d6ab01-a2f6-4a84-850f-21e1d46b30bf"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
API_ID = "495fe589-9bea-4283-b142-feb3f7d157d0"

#: The "Retrieve a PHLO" answer of the API reference.
PHLO_ANSWER = {
    "api_id": API_ID,
    "phlo_id": PHLO_ID,
    "name": "Multi-party_Outbound",
    "created_on": "2020-08-01 09:04:40.632232+00:00",
}


# --------------------------------------------------------------------------- timestamps


def test_created_on_is_parsed_to_an_aware_datetime() -> None:
    details = PhloDetails.model_validate(PHLO_ANSWER)

    assert details.created_on == datetime(2020, 8, 1, 9, 4, 40, 632232, tzinfo=timezone.utc)
    assert details.created_on.tzinfo is not None


@pytest.mark.parametrize(
    "text", ["2020-08-01 09:04:40.632232", "2020-08-01T09:04:40.632232", "2020-08-01 09:04:40"]
)
def test_a_naive_created_on_is_taken_as_utc(text: str) -> None:
    details = PhloDetails.model_validate({"phlo_id": PHLO_ID, "created_on": text})

    assert details.created_on is not None
    assert details.created_on.tzinfo is not None
    assert details.created_on.utcoffset() == timedelta(0)
    assert details.created_on.replace(tzinfo=None, microsecond=0) == datetime(2020, 8, 1, 9, 4, 40)


def test_an_explicit_offset_is_kept() -> None:
    details = PhloDetails.model_validate(
        {"phlo_id": PHLO_ID, "created_on": "2020-08-01 14:34:40+05:30"}
    )

    assert details.created_on is not None
    assert details.created_on.utcoffset() == timedelta(hours=5, minutes=30)
    assert details.created_on == datetime(2020, 8, 1, 9, 4, 40, tzinfo=timezone.utc)


@pytest.mark.parametrize("model", [PhloDetails, MultiPartyCallDetails])
def test_created_on_is_optional(model: type[PlivoObject]) -> None:
    details = model.model_validate({"phlo_id": PHLO_ID, "node_id": NODE_ID})

    assert details.created_on is None  # type: ignore[attr-defined]


def test_multi_party_call_created_on_is_aware() -> None:
    details = MultiPartyCallDetails.model_validate(
        {
            "api_id": "2163e3fb-d6d0-46fb-a4ce-2d24a6b0b89f",
            "node_id": NODE_ID,
            "phlo_id": PHLO_ID,
            "name": "Multi-Party Call_1",
            "node_type": "multi_party_call",
            "created_on": "2020-08-01 09:05:11.846982",
        }
    )

    assert details.created_on == datetime(2020, 8, 1, 9, 5, 11, 846982, tzinfo=timezone.utc)
    assert (details.node_id, details.phlo_id, details.node_type) == (
        NODE_ID,
        PHLO_ID,
        "multi_party_call",
    )


# --------------------------------------------------------------------------- unknown fields


def test_unknown_fields_are_kept() -> None:
    details = PhloDetails.model_validate({**PHLO_ANSWER, "state": "active", "version": 3})

    assert details.model_extra == {"state": "active", "version": 3}
    assert details.state == "active"  # type: ignore[attr-defined]
    assert details.model_dump()["version"] == 3


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (PhloDetails, {"phlo_id": PHLO_ID}),
        (PhloRunResult, {"api_id": API_ID}),
        (PhloRun, {"phlo_id": PHLO_ID, "run_id": "r-1"}),
        (MultiPartyCallDetails, {"phlo_id": PHLO_ID, "node_id": NODE_ID}),
        (ActionResult, {}),
        (CallCreateResult, {}),
    ],
)
def test_every_model_keeps_unknown_fields_and_exposes_api_id(
    model: type[PlivoObject], data: dict[str, Any]
) -> None:
    obj = model.model_validate({**data, "api_id": API_ID, "added_tomorrow": {"x": 1}})

    assert isinstance(obj, PlivoObject)
    assert obj.api_id == API_ID
    assert obj.model_extra == {"added_tomorrow": {"x": 1}}


@pytest.mark.parametrize("model", [ActionResult, CallCreateResult])
def test_api_id_is_none_when_absent(model: type[PlivoObject]) -> None:
    assert model.model_validate({}).api_id is None


def test_models_are_frozen() -> None:
    details = PhloDetails.model_validate(PHLO_ANSWER)

    with pytest.raises(pydantic.ValidationError):
        details.name = "renamed"  # type: ignore[misc]


# --------------------------------------------------------------------------- run results


def test_run_result_run_id_is_the_api_id() -> None:
    result = PhloRunResult.model_validate(
        {
            "phlo_id": "4c1a9f23-7f56-4879-bb80-db856e1e7701",
            "api_id": "7b6f8256-07c7-4d9a-bf2a-a2cd0f05d269",
            "message": "b'Send SMS' - b'Send SMS_1' executed",
        }
    )

    assert result.run_id == "7b6f8256-07c7-4d9a-bf2a-a2cd0f05d269"
    assert result.run_id == result.api_id
    assert result.message == "b'Send SMS' - b'Send SMS_1' executed"


def test_a_run_result_without_api_id_is_refused() -> None:
    # Plivo always returns it on success; run_id is typed str, never None.
    with pytest.raises(pydantic.ValidationError, match="api_id"):
        PhloRunResult.model_validate({"message": "stopped"})


@pytest.mark.parametrize("api_id", [None, 123, ["a"]])
def test_a_run_result_s_api_id_must_be_text(api_id: object) -> None:
    with pytest.raises(pydantic.ValidationError, match="api_id"):
        PhloRunResult.model_validate({"api_id": api_id, "message": "executed"})


def test_phlo_run_lists_default_to_empty() -> None:
    run = PhloRun.model_validate({"phlo_id": PHLO_ID, "run_id": "r-1"})

    assert (run.call_uuids, run.message_uuids, run.recording_ids) == ([], [], [])


def test_phlo_run_lists_what_the_run_started() -> None:
    run = PhloRun.model_validate(
        {"phlo_id": PHLO_ID, "run_id": "r-1", "call_uuids": ["c1", "c2"], "message_uuids": ["m1"]}
    )

    assert run.call_uuids == ["c1", "c2"]
    assert run.message_uuids == ["m1"]


@pytest.mark.parametrize("request_uuid", ["u-1", ["u-1", "u-2"]])
def test_call_create_result_request_uuid_is_one_or_a_list(request_uuid: str | list[str]) -> None:
    result = CallCreateResult.model_validate(
        {"message": "call fired", "request_uuid": request_uuid, "api_id": API_ID}
    )

    assert result.request_uuid == request_uuid


def test_action_result_keeps_plivos_empty_error() -> None:
    result = ActionResult.model_validate({"api_id": API_ID, "error": ""})

    assert result.error == ""
    assert result.api_id == API_ID


# --------------------------------------------------------------------------- through the client


async def test_client_returns_the_model_with_extras_and_an_aware_timestamp(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"https://phlorunner.plivo.com/v1/phlo/{PHLO_ID}").respond(
        200, json={**PHLO_ANSWER, "created_on": "2020-08-01 09:04:40", "state": "active"}
    )

    details = await client.phlo.get(PHLO_ID)

    assert isinstance(details, PhloDetails)
    assert details.api_id == API_ID
    assert details.name == "Multi-party_Outbound"
    assert details.created_on == datetime(2020, 8, 1, 9, 4, 40, tzinfo=timezone.utc)
    assert details.model_extra == {"state": "active"}


async def test_client_get_run_returns_a_phlo_run(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"https://phlorunner.plivo.com/v1/phlo/{PHLO_ID}/runs/r-1").respond(
        200, json={"api_id": "a", "phlo_id": PHLO_ID, "run_id": "r-1", "call_uuids": ["c1"]}
    )

    run = await client.phlo(PHLO_ID).get_run("r-1")

    assert isinstance(run, PhloRun)
    assert (run.run_id, run.call_uuids) == ("r-1", ["c1"])


@pytest.mark.parametrize(("status", "message"), [(201, "call fired"), (200, "call queued")])
async def test_the_answer_s_http_status_is_exposed_but_not_dumped(
    client: PhloClient, respx_mock: respx.MockRouter, status: int, message: str
) -> None:
    respx_mock.post(f"https://api.plivo.com/v1/Account/{client.auth_id}/Call/").respond(
        status, json={"api_id": "a", "message": message, "request_uuid": "u"}
    )

    call = await client.calls.create("+14152224444", "+14152223333", "https://example.com/a.xml")

    assert call.http_status == status
    assert "http_status" not in call.model_dump()


def test_a_model_built_by_hand_has_no_http_status() -> None:
    assert PhloDetails.model_validate(PHLO_ANSWER).http_status is None


# --------------------------------------------------------------------------- cost per answer


@pytest.mark.parametrize(
    "model",
    [ActionResult, CallCreateResult, PhloDetails, PhloRun, PhloRunResult, MultiPartyCallDetails],
)
def test_reading_an_answer_runs_no_post_init_hook(model: type[PlivoObject]) -> None:
    # pydantic runs one for a model with PrivateAttrs, deep-copying each default
    # for every answer; the status and headers are kept without one.
    assert model.__pydantic_post_init__ is None
    assert model.__private_attributes__ == {}
