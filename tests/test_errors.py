"""How Plivo's error answers (and unreadable successes) become typed exceptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

import plivo_phlo_async
from plivo_phlo_async import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectionOutcomeUnknownError,
    InternalServerError,
    InvalidParameterError,
    MethodNotAllowedError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PhloClient,
    PlivoError,
    RateLimitError,
    RequestTimeoutError,
    ServerOutcomeUnknownError,
    StatusOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
)

PHLO_ID = "73d6ab01-a2f6-4a84-850f-21e1d46b30bf"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
API_ID = "65bba537-7b1a-4329-9a34-cedf32b60bf1"
GET_URL = f"https://phlorunner.plivo.com/v1/phlo/{PHLO_ID}"
PLIVO_ERROR = "Could not verify your access level for that URL."

Call = Callable[[PhloClient], Awaitable[Any]]


@pytest.fixture
def client(make_client: Callable[..., PhloClient]) -> PhloClient:
    """No retries: each test sees the error of the first answer."""
    return make_client(max_retries=0)


def get(client: PhloClient) -> Awaitable[Any]:
    return client.phlo(PHLO_ID).get()


def post(client: PhloClient) -> Awaitable[Any]:
    return client.phlo(PHLO_ID).multi_party_call(NODE_ID).call("+14155550111", "+14155550100")


# --------------------------------------------------------------------------- status → class

STATUS_CLASSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (405, MethodNotAllowedError),
    (408, RequestTimeoutError),
    (429, RateLimitError),
    (500, InternalServerError),
    (502, InternalServerError),
    (503, InternalServerError),
    (504, InternalServerError),
    (599, InternalServerError),
    (402, APIStatusError),
    (409, APIStatusError),
    (418, APIStatusError),
    (422, APIStatusError),
    (301, APIStatusError),
]


@pytest.mark.parametrize(("code", "cls"), STATUS_CLASSES)
async def test_error_status_maps_to_its_class(
    client: PhloClient, respx_mock: respx.MockRouter, code: int, cls: type[APIStatusError]
) -> None:
    respx_mock.get(GET_URL).respond(code, json={"api_id": API_ID, "error": PLIVO_ERROR})

    with pytest.raises(APIStatusError) as info:
        await get(client)

    error = info.value
    assert type(error) is cls
    assert error.status_code == code
    assert error.api_id == API_ID
    assert error.error == PLIVO_ERROR
    assert error.server_message is None
    assert error.body == {"api_id": API_ID, "error": PLIVO_ERROR}
    assert error.outcome_unknown is False


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, MethodNotAllowedError),
        (408, StatusOutcomeUnknownError),
        (429, RateLimitError),
        (500, ServerOutcomeUnknownError),
        (502, ServerOutcomeUnknownError),
        (503, ServerOutcomeUnknownError),
        (409, APIStatusError),
    ],
)
async def test_post_error_status_maps_to_its_class(
    client: PhloClient, respx_mock: respx.MockRouter, code: int, cls: type[APIStatusError]
) -> None:
    respx_mock.post().respond(code, json={"api_id": API_ID, "error": PLIVO_ERROR})

    with pytest.raises(APIStatusError) as info:
        await post(client)

    assert type(info.value) is cls
    assert info.value.status_code == code
    assert info.value.api_id == API_ID
    assert info.value.outcome_unknown is issubclass(cls, OutcomeUnknownError)


async def test_status_error_carries_the_response_and_its_request(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(
        404, json={"api_id": API_ID, "error": "not found"}, headers={"X-Trace": "t-1"}
    )

    with pytest.raises(NotFoundError) as info:
        await get(client)

    response = info.value.response
    assert isinstance(response, httpx.Response)
    assert response.status_code == 404
    assert response.headers["X-Trace"] == "t-1"
    assert response.json() == {"api_id": API_ID, "error": "not found"}
    assert info.value.request is response.request
    assert response.request.method == "GET"
    assert str(response.request.url) == GET_URL


async def test_status_error_message_names_request_status_and_plivos_error(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(401, json={"api_id": API_ID, "error": PLIVO_ERROR})

    with pytest.raises(AuthenticationError) as info:
        await get(client)

    assert str(info.value) == f"GET {GET_URL} failed with 401 Unauthorized: {PLIVO_ERROR}"
    assert info.value.message == str(info.value)


async def test_status_error_exposes_plivos_message_field(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(
        400, json={"api_id": API_ID, "message": "invalid phlo_id", "error": ""}
    )

    with pytest.raises(BadRequestError) as info:
        await get(client)

    assert info.value.server_message == "invalid phlo_id"
    assert info.value.error is None  # an empty error text is no error text
    assert str(info.value).endswith(": invalid phlo_id")


async def test_rate_limit_error_reports_retry_after(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(429, json={"api_id": API_ID}, headers={"Retry-After": "3"})

    with pytest.raises(RateLimitError) as info:
        await get(client)

    assert info.value.retry_after == 3.0


async def test_rate_limit_error_without_retry_after_says_none(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(429, json={"api_id": API_ID})

    with pytest.raises(RateLimitError) as info:
        await get(client)

    assert info.value.retry_after is None


# --------------------------------------------------------------------------- odd error bodies


async def test_non_json_error_body_keeps_its_text(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    respx_mock.get(GET_URL).respond(502, text=html, headers={"Content-Type": "text/html"})

    with pytest.raises(InternalServerError) as info:
        await get(client)

    error = info.value
    assert error.status_code == 502
    assert error.body is None
    assert error.api_id is None
    assert error.error is None
    assert error.server_message is None
    assert error.response.text == html
    assert str(error).endswith(f": {html}")


async def test_a_long_non_json_error_body_is_shortened_in_the_message(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(500, text="x" * 10_000)

    with pytest.raises(InternalServerError) as info:
        await get(client)

    assert "x" * 200 in str(info.value)
    assert "x" * 201 not in str(info.value)
    assert len(info.value.response.content) == 10_000


async def test_an_empty_error_body_gives_a_bare_status(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(404)

    with pytest.raises(NotFoundError) as info:
        await get(client)

    assert str(info.value) == f"GET {GET_URL} failed with 404 Not Found"
    assert info.value.body is None
    assert info.value.api_id is None


@pytest.mark.parametrize("body", [["error"], "error", 42, None])
async def test_a_json_error_body_that_is_not_an_object_is_kept_as_body(
    client: PhloClient, respx_mock: respx.MockRouter, body: Any
) -> None:
    respx_mock.get(GET_URL).respond(400, json=body)

    with pytest.raises(BadRequestError) as info:
        await get(client)

    assert info.value.body == body
    assert info.value.api_id is None
    assert info.value.error is None


async def test_non_text_error_fields_are_turned_into_text(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(400, json={"api_id": 123, "error": {"to": "invalid"}})

    with pytest.raises(BadRequestError) as info:
        await get(client)

    assert info.value.api_id == "123"
    assert info.value.error == "{'to': 'invalid'}"


# --------------------------------------------------------------------------- unreadable successes


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(b"<html>OK</html>", "is not JSON", id="html"),
        pytest.param(b'{"phlo_id": ', "is not JSON", id="truncated-json"),
        pytest.param(b"[]", "does not match PhloDetails", id="json-list"),
        pytest.param(b"null", "does not match PhloDetails", id="json-null"),
        pytest.param(b'{"api_id": "a"}', "does not match PhloDetails", id="missing-phlo-id"),
        pytest.param(
            b'{"phlo_id": "p", "created_on": "yesterday"}',
            "does not match PhloDetails",
            id="bad-timestamp",
        ),
        pytest.param(b"", "does not match PhloDetails", id="empty"),
    ],
)
async def test_a_2xx_with_an_unreadable_body_raises_response_validation_error(
    client: PhloClient, respx_mock: respx.MockRouter, content: bytes, problem: str
) -> None:
    route = respx_mock.get(GET_URL).respond(200, content=content)

    with pytest.raises(APIResponseValidationError) as info:
        await get(client)

    error = info.value
    assert error.status_code == 200
    assert isinstance(error.response, httpx.Response)
    assert error.response.content == content
    assert error.request is error.response.request
    assert problem in str(error)
    assert "do not send it again" in str(error)
    assert error.outcome_unknown is False
    assert route.call_count == 1  # it succeeded: never repeated


async def test_a_2xx_run_answer_of_the_wrong_shape_raises_response_validation_error(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post().respond(201, json={"api_id": ["not", "text"]})

    with pytest.raises(APIResponseValidationError) as info:
        await client.phlo(PHLO_ID).run()

    assert info.value.status_code == 201
    assert "PhloRunResult" in str(info.value)


async def test_an_action_answered_204_without_a_body_is_a_success(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post().respond(204)

    result = await post(client)

    assert result.api_id is None
    assert result.error is None


# --------------------------------------------------------------------------- the hierarchy

ALL_ERRORS = [
    PlivoError,
    InvalidParameterError,
    ConfigurationError,
    APIError,
    APIConnectionError,
    APITimeoutError,
    APIResponseValidationError,
    APIStatusError,
    BadRequestError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    MethodNotAllowedError,
    RequestTimeoutError,
    RateLimitError,
    InternalServerError,
    OutcomeUnknownError,
    ServerOutcomeUnknownError,
    StatusOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
    ConnectionOutcomeUnknownError,
]
OUTCOME_UNKNOWN = {
    OutcomeUnknownError,
    ServerOutcomeUnknownError,
    StatusOutcomeUnknownError,
    TimeoutOutcomeUnknownError,
    ConnectionOutcomeUnknownError,
}


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_every_error_is_a_plivo_error_with_an_outcome_unknown_flag(cls: type[PlivoError]) -> None:
    assert issubclass(cls, PlivoError)
    assert cls.outcome_unknown is (cls in OUTCOME_UNKNOWN)
    assert cls.__name__ in plivo_phlo_async.__all__


@pytest.mark.parametrize(
    ("cls", "ordinary"),
    [
        (ServerOutcomeUnknownError, InternalServerError),
        (StatusOutcomeUnknownError, RequestTimeoutError),
        (TimeoutOutcomeUnknownError, APITimeoutError),
        (ConnectionOutcomeUnknownError, APIConnectionError),
    ],
)
def test_each_outcome_unknown_error_is_also_the_ordinary_error_of_its_kind(
    cls: type[PlivoError], ordinary: type[PlivoError]
) -> None:
    assert issubclass(cls, OutcomeUnknownError)
    assert issubclass(cls, ordinary)


@pytest.mark.parametrize("cls", [InvalidParameterError, ConfigurationError])
def test_input_errors_are_value_errors_and_not_api_errors(cls: type[PlivoError]) -> None:
    assert issubclass(cls, ValueError)
    assert not issubclass(cls, APIError)


async def test_status_error_repr_is_short_and_useful(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).respond(404, json={"api_id": API_ID, "error": "PHLO not found"})

    with pytest.raises(NotFoundError) as info:
        await get(client)

    assert repr(info.value) == (
        f"NotFoundError(status_code=404, api_id={API_ID!r}, message={str(info.value)!r})"
    )


async def test_connection_error_carries_the_request_and_its_cause(
    client: PhloClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(GET_URL).mock(side_effect=httpx.ConnectError("name resolution failed"))

    with pytest.raises(APIConnectionError) as info:
        await get(client)

    assert str(info.value) == f"GET {GET_URL} failed: name resolution failed"
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.request is not None
    assert str(info.value.request.url) == GET_URL
