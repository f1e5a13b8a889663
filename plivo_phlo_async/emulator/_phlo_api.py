"""The PHLO endpoints: PHLOs, runs, nodes of any type, multi-party-call
actions, and member actions on multi-party calls and conference bridges.

Bodies are validated here, with rules written independently of the SDK's
models; only the vocabulary (the actions and roles) is the SDK's one list,
whose strings tests/test_wire_format.py pins. Choices where the reference is
silent:

* ``role`` defaults to ``agent``; ``to``/``trigger_source`` must be a phone
  number (optional ``+``, up to 15 digits) or a SIP URI.
* ``trigger_source`` must be an agent who is ``on_call``, except for the
  first ``call`` on an empty multi-party call, which brings that agent in.
  A bad ``trigger_source`` is 400 (it is a body field); an unknown member in
  the URL is 404.
* Member addresses match exactly as written (``+1415...`` is not ``1415...``).
* Nodes are served by type: ``GET /phlo/{id}/{node_type}/{node_id}`` finds a
  node only under its own type (a bridge's id under ``multi_party_call`` is
  404). Conference bridges (the reference does not document them; the
  official SDKs post the same ``{"action": ...}`` bodies) take ``mute``,
  ``unmute``, ``hold``, ``unhold`` and ``hangup`` on members; a node POST to a
  bridge is 405, another action 400.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..types import _params as sdk
from ._http import (
    both_slashes,
    check_account,
    check_keys,
    context,
    fail_if,
    json_object,
    ok,
)
from ._state import EmulatorError, is_address

__all__ = ["MEMBER_ACTIONS", "NODE_ACTIONS", "ROLES", "phlo_routes"]

NODE_ACTIONS: tuple[str, ...] = sdk.NODE_ACTIONS
#: The member actions of each node type that has members.
MEMBER_ACTIONS: dict[str, tuple[str, ...]] = {
    "multi_party_call": sdk.MEMBER_ACTIONS,
    "conference_bridge": sdk.CONFERENCE_BRIDGE_MEMBER_ACTIONS,
}
ROLES: tuple[str, ...] = sdk.ROLES
#: "'agent' or 'customer'", for error messages.
ROLE_CHOICES = " or ".join(map(repr, ROLES))


async def describe(request: Request) -> Response:
    """Every ``GET``: a PHLO, one of its runs, or one of its nodes (under its own type only)."""
    emulator, _ = context(request)
    params = request.path_params
    if "run_id" in params:
        found = emulator.describe_run(params["phlo_id"], params["run_id"])
    elif "node_id" in params:
        found = emulator.describe_node(params["phlo_id"], params["node_id"], params["node_type"])
    else:
        found = emulator.describe_phlo(params["phlo_id"])
    return ok(request, 200, found)


async def run_phlo(request: Request) -> Response:
    emulator, record = context(request)
    check_account(record, request.path_params["auth_id"])
    phlo_id = request.path_params["phlo_id"]
    emulator.describe_phlo(phlo_id)  # 404 before the body is read
    payload = await json_object(request, allow_empty=True)
    run = emulator.start_run(record, phlo_id, payload)
    return ok(request, 201, {"phlo_id": phlo_id, "message": run.message})


async def node_action(request: Request) -> Response:
    emulator, record = context(request)
    phlo_id = request.path_params["phlo_id"]
    node_id = request.path_params["node_id"]
    emulator.require_node(phlo_id, node_id, "multi_party_call")
    data = await json_object(request)
    problems = _action_problems(data, ("action", "to", "role", "trigger_source"), NODE_ACTIONS)
    for key in ("to", "trigger_source"):
        if key not in data:
            problems.append(f"{key} is required")
        elif not is_address(data[key]):
            problems.append(f"{key} must be a phone number or a SIP URI, not {data[key]!r}")
    role = data.get("role", "agent")
    if role not in ROLES:
        problems.append(f"role must be {ROLE_CHOICES}, not {role!r}")
    fail_if(problems)
    emulator.act_on_node(record, phlo_id, node_id, str(data["action"]), data)
    return ok(request, 201, {"error": ""})


async def member_action(request: Request) -> Response:
    emulator, record = context(request)
    params = request.path_params
    node_type = params["node_type"]
    allowed = MEMBER_ACTIONS.get(node_type)
    if allowed is None:
        raise EmulatorError(404, f"a {node_type} node has no members")
    emulator.require_node(params["phlo_id"], params["node_id"], node_type)
    data = await json_object(request)
    fail_if(_action_problems(data, ("action",), allowed))
    emulator.act_on_member(
        record, params["phlo_id"], params["node_id"], node_type, params["member_address"], data
    )
    return ok(request, 201, {"error": ""})


def _action_problems(
    data: dict[str, Any], keys: tuple[str, ...], allowed: tuple[str, ...]
) -> list[str]:
    """Unknown keys, and a missing or unknown ``action``."""
    problems = check_keys(data, keys)
    action = data.get("action")
    if action is None:
        problems.append("action is required")
    elif action not in allowed:
        problems.append(f"action must be one of {', '.join(allowed)}, not {action!r}")
    return problems


def phlo_routes() -> list[BaseRoute]:
    return [
        *both_slashes("/v1/phlo/{phlo_id}", describe, ["GET"]),
        *both_slashes("/v1/account/{auth_id}/phlo/{phlo_id}", run_phlo, ["POST"]),
        *both_slashes("/v1/phlo/{phlo_id}/runs/{run_id}", describe, ["GET"]),
        *both_slashes("/v1/phlo/{phlo_id}/multi_party_call/{node_id}", node_action, ["POST"]),
        *both_slashes("/v1/phlo/{phlo_id}/{node_type}/{node_id}", describe, ["GET"]),
        *both_slashes(
            "/v1/phlo/{phlo_id}/{node_type}/{node_id}/members/{member_address}",
            member_action,
            ["POST"],
        ),
    ]
