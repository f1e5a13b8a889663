"""An asyncio bot that turns events into multi-party-call actions, and is honest when cancelled.

Run it against the bundled emulator (one command, no account):

    python examples/event_bot.py --emulator < examples/bot_events.jsonl

Against Plivo (or an emulator you started): set PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN, PHLO_ID and
NODE_ID, leave out --emulator, and feed it events on stdin, one JSON object a line:
`{"event": "call", "to": "+1415...", "role": "customer"}`,
`{"event": "hold", "member": "+1415..."}`, and likewise unhold, hangup, mute, unmute.
The agent who places calls is `--agent`.

Each event prints one line: `done`, `failed` (the action was refused; nothing happened) or
`UNKNOWN` (the request may have reached Plivo: check before doing it again). Ctrl-C or SIGTERM
cancels the bot. An action in flight at that moment is reported `UNKNOWN`, never sent again,
because a cancelled request may still have been executed; the events not yet read are left
unread. Exit status: 0 at the end of the input, 130 when cancelled. POSIX only (it reads a
pipe and takes signals through the event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any

from plivo_phlo_async import MultiPartyCall, OutcomeUnknownError, PhloClient, PlivoError

MEMBER_ACTIONS = ("hold", "unhold", "hangup", "mute", "unmute")


async def read_events() -> AsyncIterator[dict[str, Any]]:
    """Events from stdin: a pipe is read without blocking the loop; a file is read directly."""
    if stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode):
        for line in sys.stdin:
            if line.strip():
                yield json.loads(line)
        return
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip():
            yield json.loads(line)


def describe(event: dict[str, Any]) -> str:
    return f"{event.get('event')} {event.get('to') or event.get('member')}"


async def act(mpc: MultiPartyCall, agent: str, event: dict[str, Any]) -> None:
    kind = event.get("event")
    if kind == "call":
        await mpc.call(agent, event["to"], role=event.get("role", "customer"))
    elif kind in MEMBER_ACTIONS:
        await getattr(mpc.member(event["member"]), kind)()
    else:
        raise ValueError(f"unknown event {kind!r}")


async def run_bot(agent: str) -> None:
    async with PhloClient() as client:  # PLIVO_AUTH_ID / PLIVO_AUTH_TOKEN
        mpc = client.phlo(os.environ["PHLO_ID"]).multi_party_call(os.environ["NODE_ID"])
        print("ready", flush=True)
        async for event in read_events():
            try:
                await act(mpc, agent, event)
            except asyncio.CancelledError:
                print(
                    f"UNKNOWN {describe(event)}: cancelled in flight, it may have happened;"
                    " check before doing it again",
                    flush=True,
                )
                raise
            except OutcomeUnknownError as error:
                print(f"UNKNOWN {describe(event)}: {error}", flush=True)
            except (PlivoError, ValueError, KeyError) as error:
                print(f"failed {describe(event)}: {type(error).__name__}: {error}", flush=True)
            else:
                print(f"done {describe(event)}", flush=True)


async def main_async(agent: str) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await run_bot(agent)
    except asyncio.CancelledError:
        print("cancelled", flush=True)
        return 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="+14155550100", help="who places the calls")
    parser.add_argument("--emulator", action="store_true", help="start the bundled emulator")
    args = parser.parse_args(argv)

    from _emulator import emulator_environment

    with emulator_environment(args.emulator):
        return asyncio.run(main_async(args.agent))


if __name__ == "__main__":
    sys.exit(main())
