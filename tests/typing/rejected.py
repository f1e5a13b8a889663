"""Code ``mypy --strict`` must refuse, one error per marked line
(``tests/test_typing.py`` checks the line numbers): proof the check bites."""

from __future__ import annotations

from plivo_phlo_async import PhloClient


async def wrong(client: PhloClient, phlo_id: str) -> None:
    res = await client.phlo(phlo_id).run()
    await client.phlo(phlo_id).get_run(res.message)  # expect-error: message may be None
    res.http_headers["x-request-id"] = "mine"  # expect-error: the headers are read-only
    bridge_member = client.phlo(phlo_id).conference_bridge("n").member("+14155550100")
    await bridge_member.voicemail_drop()  # expect-error: not a conference-bridge action
    await client.phlo(phlo_id).get(extra_headers={"X-A": 1})  # expect-error: values are str
