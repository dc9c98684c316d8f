"""What the DICOM receiver refused for lack of room (table `intake_refusals`, migration m011).

Two refusals are kept, each one row: `too_large` (an object passed the size limit while it streamed in; its
association was aborted and nothing of it kept) and `quota` (the inbox was full even after sweeping the
reviewed files; the object got C-STORE 0xA700). The receiver writes them (`qc.intake.receiver`); the review
page and Home read them back, grouped by sender (`qc.intake.refusals` makes the sentences). "Busy"
answers (association limits) are not kept: the sender retries them by itself and nothing is lost.
"""

from __future__ import annotations

REASONS = ("too_large", "quota")


def record_refusal(store, reason: str, ae_title: str, address: str, size_bytes: int, limit_mb: float, what: str = "") -> None:
    """Keep one refusal (`reason` in REASONS): the sender's AE title and address, the bytes received or
    offered, the limit in force (MB) and, when its header could be read, what the object was."""
    from qc.records.storage import now_iso

    if reason not in REASONS:
        raise ValueError(f"unknown refusal reason {reason!r}")
    with store.write() as db:
        db["intake_refusals"].insert({"at": now_iso(), "reason": reason, "ae_title": ae_title[:64], "address": address[:64],
                                      "size": int(size_bytes), "limit_mb": float(limit_mb), "what": what[:200]})


def refusals_since(store, since: str) -> list[dict]:
    """Refusals at or after `since` (ISO time), one row per (reason, AE title, address): `n`, `first_at`,
    `last_at`, the largest `size`, and the `limit_mb` and `what` of the latest one; latest first."""
    return [dict(r) for r in store.db.query(
        "select reason, ae_title, address, count(*) as n, min(at) as first_at, max(at) as last_at, max(size) as size, "
        "(select limit_mb from intake_refusals l where l.reason = r.reason and l.ae_title = r.ae_title "
        " and l.address = r.address order by l.at desc, l.id desc limit 1) as limit_mb, "
        "(select what from intake_refusals l where l.reason = r.reason and l.ae_title = r.ae_title "
        " and l.address = r.address and l.what != '' order by l.at desc, l.id desc limit 1) as what "
        "from intake_refusals r where at >= ? group by reason, ae_title, address order by last_at desc", [since])]
