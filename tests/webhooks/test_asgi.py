"""PlivoWebhook / verified_params on a Starlette app, in-process (httpx.ASGITransport)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

pytest.importorskip("starlette")

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from plivo_phlo_async import InvalidParameterError, PhloClient
from plivo_phlo_async.webhooks import (
    NONCE_HEADER,
    NONCE_V2_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_V2_HEADER,
    PlivoWebhook,
    sign_v2,
    sign_v3,
    verified_params,
)

TOKEN = "tok-Zq9-never-print-me-7Hk2"
AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
PARAMS = {
    "CallUUID": "c-1",
    "From": "14155550100",
    "To": "14155550111",
    "CallStatus": "in-progress",
    "Direction": "outbound",
}


def app_for(webhook: PlivoWebhook) -> Starlette:
    async def endpoint(request: Request) -> JSONResponse:
        params = await webhook(request)
        return JSONResponse({key: params.getlist(key) for key in params})

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "PUT"])])


def http_for(webhook: PlivoWebhook, base_url: str = "http://bot.local") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app_for(webhook)), base_url=base_url)


def signed_headers(
    method: str,
    url: str,
    params: dict[str, Any] | None,
    token: str = TOKEN,
    nonce: str = "12345678901234567890",
) -> dict[str, str]:
    signature = sign_v3(method=method, url=url, params=params, nonce=nonce, auth_token=token)
    return {SIGNATURE_HEADER: signature, NONCE_HEADER: nonce}


async def test_a_signed_post_gives_its_form_fields() -> None:
    url = "http://bot.local/answer?leg=a"
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        response = await http.post(url, data=PARAMS, headers=signed_headers("POST", url, PARAMS))
    assert response.status_code == 200
    assert response.json() == {key: [value] for key, value in PARAMS.items()}


async def test_a_signed_get_gives_its_query() -> None:
    url = "http://bot.local/answer?" + urlencode(PARAMS)
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        response = await http.get(url, headers=signed_headers("GET", url, {}))
    assert response.status_code == 200
    assert response.json() == {key: [value] for key, value in PARAMS.items()}


async def test_repeated_and_non_ascii_fields_verify_and_are_all_returned() -> None:
    url = "http://bot.local/answer"
    fields = [("Digits", "1"), ("Digits", "2"), ("CallerName", "Zoë Ünal")]
    signed = {"Digits": ["1", "2"], "CallerName": "Zoë Ünal"}
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        response = await http.post(
            url,
            content=urlencode(fields),
            headers={
                **signed_headers("POST", url, signed),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    assert response.status_code == 200
    assert response.json() == {"Digits": ["1", "2"], "CallerName": ["Zoë Ünal"]}


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("tampered value", lambda r: r.update(data={**PARAMS, "CallStatus": "completed"})),
        ("added field", lambda r: r.update(data={**PARAMS, "Admin": "1"})),
        ("dropped field", lambda r: r.update(data={k: v for k, v in PARAMS.items() if k != "To"})),
        (
            "wrong token",
            lambda r: r.update(headers=signed_headers("POST", r["url"], PARAMS, token=TOKEN + "x")),
        ),
        ("other nonce", lambda r: r["headers"].update({NONCE_HEADER: "1"})),
        ("no signature", lambda r: r["headers"].pop(SIGNATURE_HEADER)),
        ("no nonce", lambda r: r["headers"].pop(NONCE_HEADER)),
        ("empty signature", lambda r: r["headers"].update({SIGNATURE_HEADER: ""})),
        ("other path", lambda r: r.update(url="http://bot.local/hangup")),
        ("other query", lambda r: r.update(url="http://bot.local/answer?leg=b")),
    ],
)
async def test_anything_not_signed_by_plivo_is_403(case: str, mutate: Any) -> None:
    url = "http://bot.local/answer?leg=a"
    request: dict[str, Any] = {
        "url": url,
        "data": PARAMS,
        "headers": signed_headers("POST", url, PARAMS),
    }
    mutate(request)
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        response = await http.post(request["url"], data=request["data"], headers=request["headers"])
    assert response.status_code == 403, case
    assert TOKEN not in response.text


async def test_a_body_that_is_not_a_form_is_403() -> None:
    url = "http://bot.local/answer"
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        response = await http.post(url, json=PARAMS, headers=signed_headers("POST", url, PARAMS))
    assert response.status_code == 403
    assert "x-www-form-urlencoded" in response.text


async def test_a_method_plivo_does_not_use_is_403() -> None:
    url = "http://bot.local/answer"
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        response = await http.put(url, data=PARAMS, headers=signed_headers("POST", url, PARAMS))
    assert response.status_code == 403


async def test_behind_a_proxy_the_public_url_is_what_is_checked() -> None:
    public = "https://bot.example.com/answer?leg=a"
    headers = signed_headers("POST", public, PARAMS)
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        refused = await http.post("/answer?leg=a", data=PARAMS, headers=headers)
    async with http_for(
        PlivoWebhook(auth_token=TOKEN, public_url="https://bot.example.com/")
    ) as http:
        accepted = await http.post("/answer?leg=a", data=PARAMS, headers=headers)
    assert (refused.status_code, accepted.status_code) == (403, 200)


async def test_a_public_url_with_a_prefix_the_proxy_strips() -> None:
    public = "https://example.com/bot/answer"
    webhook = PlivoWebhook(auth_token=TOKEN, public_url="https://example.com/bot")
    async with http_for(webhook) as http:
        response = await http.post(
            "/answer", data=PARAMS, headers=signed_headers("POST", public, PARAMS)
        )
    assert response.status_code == 200


async def test_the_path_is_checked_as_sent_percent_encoding_included() -> None:
    url = "http://bot.local/calls/a%20b/answer"
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        response = await http.post(url, data=PARAMS, headers=signed_headers("POST", url, PARAMS))
    assert response.status_code == 200


async def test_raw_utf8_in_the_query_is_decoded_once_like_percent_encoded_utf8() -> None:
    # Built by hand: an HTTP client would percent-encode it; a server passes the bytes on.
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("bot.local", 80),
        "path": "/answer",
        "raw_path": b"/answer",
        "query_string": "Name=Zoë".encode(),
        "root_path": "",
        "headers": [
            (name.lower().encode(), value.encode())
            for name, value in signed_headers(
                "GET", "http://bot.local/answer?Name=Zo%C3%AB", {}
            ).items()
        ]
        + [(b"host", b"bot.local")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    params = await PlivoWebhook(auth_token=TOKEN)(Request(scope, receive))
    assert params.multi_items() == [("Name", "Zoë")]


def v2_headers(url: str, token: str = TOKEN, nonce: str = "52760317") -> dict[str, str]:
    return {
        SIGNATURE_V2_HEADER: sign_v2(url=url, nonce=nonce, auth_token=token),
        NONCE_V2_HEADER: nonce,
    }


async def test_a_request_signed_with_v2_only_is_403_unless_allowed() -> None:
    url = "http://bot.local/answer"
    async with http_for(PlivoWebhook(auth_token=TOKEN)) as http:
        response = await http.post(url, data=PARAMS, headers=v2_headers(url))
    assert response.status_code == 403
    assert "missing Plivo signature headers" in response.text


async def test_with_allow_v2_a_request_signed_with_v2_only_gives_its_form_fields() -> None:
    url = "http://bot.local/answer?leg=a"
    async with http_for(PlivoWebhook(auth_token=TOKEN, allow_v2=True)) as http:
        good = await http.post(url, data=PARAMS, headers=v2_headers(url))
        bad = await http.post(url, data=PARAMS, headers=v2_headers(url, token="other"))
        moved = await http.post("/hangup", data=PARAMS, headers=v2_headers(url))
    assert good.status_code == 200
    assert good.json() == {key: [value] for key, value in PARAMS.items()}
    assert (bad.status_code, moved.status_code) == (403, 403)


async def test_with_allow_v2_a_present_v3_signature_is_the_one_checked() -> None:
    url = "http://bot.local/answer"
    headers = {**v2_headers(url), SIGNATURE_HEADER: "forged", NONCE_HEADER: "1"}
    async with http_for(PlivoWebhook(auth_token=TOKEN, allow_v2=True)) as http:
        response = await http.post(url, data=PARAMS, headers=headers)
    assert response.status_code == 403
    assert "invalid Plivo signature" in response.text


async def test_verified_params_passes_allow_v2_on() -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(dict(await verified_params(request, auth_token=TOKEN, allow_v2=True)))

    app = Starlette(routes=[Route("/answer", endpoint, methods=["POST"])])
    url = "http://bot.local/answer"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        response = await http.post(url, data=PARAMS, headers=v2_headers(url))
    assert response.json() == PARAMS


async def test_the_token_can_come_from_a_phlo_client() -> None:
    url = "http://bot.local/answer"
    async with PhloClient(AUTH_ID, TOKEN) as client:
        webhook = PlivoWebhook(client=client)
        async with http_for(webhook) as http:
            good = await http.post(url, data=PARAMS, headers=signed_headers("POST", url, PARAMS))
            bad = await http.post(
                url, data=PARAMS, headers=signed_headers("POST", url, PARAMS, token="other")
            )
    assert (good.status_code, bad.status_code) == (200, 403)
    assert TOKEN not in repr(webhook)
    assert repr(webhook) == "PlivoWebhook(token_from='client', public_url=None, allow_v2=False)"


async def test_verified_params_is_the_one_call_form() -> None:
    async def endpoint(request: Request) -> JSONResponse:
        params = await verified_params(request, auth_token=TOKEN)
        return JSONResponse(dict(params))

    app = Starlette(routes=[Route("/answer", endpoint, methods=["POST"])])
    url = "http://bot.local/answer"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        good = await http.post(url, data=PARAMS, headers=signed_headers("POST", url, PARAMS))
        bad = await http.post(url, data=PARAMS, headers={SIGNATURE_HEADER: "x", NONCE_HEADER: "1"})
    assert good.json() == PARAMS
    assert bad.status_code == 403


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "auth_token"),
        ({"auth_token": TOKEN, "client": object()}, "auth_token"),
        ({"auth_token": ""}, "auth_token"),
        ({"client": object()}, "client"),
        ({"auth_token": TOKEN, "public_url": "bot.example.com"}, "public_url"),
        ({"auth_token": TOKEN, "public_url": "https://bot.example.com/?a=1"}, "public_url"),
        ({"auth_token": TOKEN, "allow_v2": "yes"}, "allow_v2"),
    ],
)
def test_bad_setup_is_a_typed_error_without_the_token(
    arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        PlivoWebhook(**arguments)
    assert raised.value.field == field
    assert TOKEN not in str(raised.value)


def test_repr_never_shows_the_token() -> None:
    webhook = PlivoWebhook(auth_token=TOKEN, public_url="https://bot.example.com")
    assert TOKEN not in repr(webhook)
    assert "bot.example.com" in repr(webhook)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - runs this interpreter on our own code
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_importing_webhooks_does_not_load_starlette() -> None:
    result = _run("""
        import sys
        import plivo_phlo_async.webhooks as webhooks
        assert webhooks.verify_signature_v3 is not None
        assert not any(name.startswith("starlette") for name in sys.modules), "starlette loaded"
        print("ok")
    """)
    assert result.stdout.strip() == "ok", result.stderr


def test_without_starlette_the_helper_names_the_extra() -> None:
    result = _run("""
        import sys
        sys.modules["starlette"] = None  # as if not installed
        import plivo_phlo_async.webhooks as webhooks
        assert webhooks.sign_v3 is not None
        try:
            webhooks.PlivoWebhook
        except ImportError as exc:
            print(exc)
    """)
    assert "pip install 'plivo-phlo-async[emulator]'" in result.stdout, result.stderr


async def test_usable_as_a_fastapi_dependency() -> None:
    fastapi = pytest.importorskip("fastapi", reason="fastapi is not installed")
    webhook = PlivoWebhook(auth_token=TOKEN)
    app = fastapi.FastAPI()

    @app.post("/answer")
    async def answer(params: Any = fastapi.Depends(webhook)) -> dict[str, str]:  # noqa: B008
        return dict(params)

    url = "http://bot.local/answer"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        good = await http.post(url, data=PARAMS, headers=signed_headers("POST", url, PARAMS))
        bad = await http.post(url, data=PARAMS, headers={SIGNATURE_HEADER: "x", NONCE_HEADER: "1"})
    assert good.json() == PARAMS
    assert bad.status_code == 403
