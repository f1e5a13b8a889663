"""What a runner does with a job's row when it claims it: the whole table.

``decide`` runs inside the claim's transaction in both backends; these are
its rules, one row per case (another runner's row unless it says "mine").
"""

from __future__ import annotations

import dataclasses

import pytest

from plivo_phlo_async.bulk._journal import JournalEntry, decide

NOW = 1_000.0
ME, OTHER = "me", "other"
LIVE, EXPIRED = NOW + 10, NOW - 1

ROW = JournalEntry(
    "job", "succeeded", OTHER, "1", 201, "api", 1, None, NOW - 50, None, None, None, None
)


def row(status: str, lease: float | None = None, token: str = OTHER) -> JournalEntry:
    return dataclasses.replace(ROW, status=status, lease_until=lease, run_token=token)


@pytest.mark.parametrize(
    ("found", "retry_failed", "prior", "kind", "status", "write"),
    [
        (None, False, None, "claimed", None, "insert"),
        (row("succeeded", token=ME), False, None, "duplicate", None, None),
        (row("claimed", LIVE, token=ME), False, None, "duplicate", None, None),
        (row("succeeded"), False, None, "settled", "succeeded", "adopt"),
        (row("succeeded"), True, None, "settled", "succeeded", "adopt"),
        (row("failed"), False, None, "settled", "failed", "adopt"),
        (row("failed"), True, None, "claimed", None, "take"),
        (row("resend"), False, None, "claimed", None, "take"),
        (row("claimed", LIVE), False, None, "owned", None, None),  # about to be sent: wait
        (row("claimed", EXPIRED), False, None, "claimed", None, "take"),  # owner died unsent
        (row("claimed", None), False, None, "claimed", None, "take"),
        (row("claimed", EXPIRED), False, "failed", "settled", "failed", "adopt"),
        (row("claimed", EXPIRED), True, "failed", "claimed", None, "take"),
        (row("claimed", EXPIRED), False, "resend", "claimed", None, "take"),
        (row("in_flight", LIVE), False, None, "owned", None, None),  # being sent: wait
        (row("in_flight", EXPIRED), False, None, "settled", "outcome_unknown", "adopt"),
        (row("in_flight", None), True, None, "settled", "outcome_unknown", "adopt"),
        (row("outcome_unknown"), True, None, "settled", "outcome_unknown", "adopt"),
    ],
)
def test_the_claim_rules(
    found: JournalEntry | None,
    retry_failed: bool,
    prior: str | None,
    kind: str,
    status: str | None,
    write: str | None,
) -> None:
    claim, taken = decide(found, ME, NOW, retry_failed, prior)
    assert (claim.kind, claim.status, taken) == (kind, status, write)
    assert claim.row is found
