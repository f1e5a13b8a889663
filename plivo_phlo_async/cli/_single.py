"""Single requests: ``get``, ``get-run``, ``mpc`` and ``member``.

Each prints Plivo's answer as JSON on stdout. Invalid input exits 2 before
anything is sent; a failed request prints one line on stderr and exits 1.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Annotated

import anyio
import typer

from .._client import DEFAULT_BASE_URL, PhloClient
from .._exceptions import PlivoError
from ..types import PlivoObject
from ..types._params import MEMBER_ACTIONS, NODE_ACTIONS, ROLES
from ._common import (
    AuthIdOption,
    AuthTokenOption,
    BaseUrlOption,
    exit_for_error,
    make_client,
    print_json,
)

# The choices are the SDK's one list of actions and roles (types/_params.py),
# spelled with hyphens on the command line (warm-transfer). mypy cannot see
# members made from a list, hence the ignores; typer reads them at run time.
NodeActionName = enum.Enum(  # type: ignore[misc]
    "NodeActionName", {name.upper(): name.replace("_", "-") for name in NODE_ACTIONS}, type=str
)
MemberActionName = enum.Enum(  # type: ignore[misc]
    "MemberActionName", {name.upper(): name.replace("_", "-") for name in MEMBER_ACTIONS}, type=str
)
RoleName = enum.Enum(  # type: ignore[misc]
    "RoleName", {name.upper(): name for name in ROLES}, type=str
)
DEFAULT_ROLE = RoleName("agent")


def _one_of(choices: type[enum.Enum]) -> str:
    """The choices as words in the help text: a narrow terminal wraps them
    between words, where typer's ``<a|b|c>`` type column splits them mid-word."""
    return "What to do: " + ", ".join(str(choice.value) for choice in choices) + "."


PhloIdArg = Annotated[
    str, typer.Argument(metavar="PHLO_ID", help="The PHLO's id.", show_default=False)
]
NodeIdArg = Annotated[
    str,
    typer.Argument(metavar="NODE_ID", help="The multi-party-call node's id.", show_default=False),
]


def _send(
    auth_id: str | None,
    auth_token: str | None,
    base_url: str,
    request: Callable[[PhloClient], Awaitable[PlivoObject]],
) -> None:
    """Build the client, send one request, print the answer or exit on error."""
    client = make_client(auth_id, auth_token, base_url)

    async def go() -> PlivoObject:
        async with client:
            return await request(client)

    try:
        answer = anyio.run(go)
    except PlivoError as exc:
        exit_for_error(exc)
    print_json(answer)


def get(
    phlo_id: PhloIdArg,
    auth_id: AuthIdOption = None,
    auth_token: AuthTokenOption = None,
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
) -> None:
    """Print a PHLO (name, creation time) as JSON."""
    _send(auth_id, auth_token, base_url, lambda client: client.phlo.get(phlo_id))


def get_run(
    phlo_id: PhloIdArg,
    run_id: Annotated[
        str,
        typer.Argument(metavar="RUN_ID", help="The run's id (a run's api_id).", show_default=False),
    ],
    auth_id: AuthIdOption = None,
    auth_token: AuthTokenOption = None,
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
) -> None:
    """Print what one PHLO run started (call, message and recording ids) as JSON."""
    _send(auth_id, auth_token, base_url, lambda client: client.phlo(phlo_id).get_run(run_id))


def mpc(
    phlo_id: PhloIdArg,
    node_id: NodeIdArg,
    action: Annotated[
        NodeActionName,
        typer.Argument(metavar="ACTION", help=_one_of(NodeActionName), show_choices=False),
    ],
    trigger_source: Annotated[
        str,
        typer.Option("--trigger-source", help="Who triggers the action: phone number or SIP URI."),
    ],
    to: Annotated[str, typer.Option("--to", help="Whom to dial: phone number or SIP URI.")],
    role: Annotated[
        RoleName, typer.Option("--role", help="Role of the person dialled.")
    ] = DEFAULT_ROLE,
    auth_id: AuthIdOption = None,
    auth_token: AuthTokenOption = None,
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
) -> None:
    """Run a multi-party-call node action: call, warm-transfer or cold-transfer.

    It dials a real phone: a failure whose outcome is unknown is reported,
    never retried.
    """
    method: str = action.value.replace("-", "_")
    role_name: str = role.value

    async def request(client: PhloClient) -> PlivoObject:
        node = client.phlo(phlo_id).multi_party_call(node_id)
        act: Callable[..., Awaitable[PlivoObject]] = getattr(node, method)
        return await act(trigger_source, to, role_name)

    _send(auth_id, auth_token, base_url, request)


def member(
    phlo_id: PhloIdArg,
    node_id: NodeIdArg,
    member_address: Annotated[
        str,
        typer.Argument(
            metavar="MEMBER_ADDRESS",
            help="The member's phone number or SIP URI.",
            show_default=False,
        ),
    ],
    action: Annotated[
        MemberActionName,
        typer.Argument(metavar="ACTION", help=_one_of(MemberActionName), show_choices=False),
    ],
    auth_id: AuthIdOption = None,
    auth_token: AuthTokenOption = None,
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
) -> None:
    """Act on one member of a multi-party call."""
    method: str = action.value.replace("-", "_")

    async def request(client: PhloClient) -> PlivoObject:
        target = client.phlo(phlo_id).multi_party_call(node_id).member(member_address)
        act: Callable[[], Awaitable[PlivoObject]] = getattr(target, method)
        return await act()

    _send(auth_id, auth_token, base_url, request)
