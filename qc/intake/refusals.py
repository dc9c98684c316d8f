"""The sentences that tell the physicist what the DICOM receiver refused for lack of room (issue 26).

An object over the size limit, or past the inbox quota, is refused while the sender is told (A-ABORT, or
C-STORE 0xA700); before, the physicist learnt it only from the receiver's log, i.e. never. The refusals are
kept (`qc.records.intake_refusals`) and said on the review page and on Home for RECENT_DAYS, one sentence
per sender and reason: what was refused, when, from whom (AE title and address shown as plain text), and
what to do.
"""

from __future__ import annotations

import datetime as dt

from qc.i18n import t
from qc.records.intake_refusals import refusals_since
from qc.textsafe import md_escape

# A refusal is said for a week: long enough to be seen at the next QC day, short enough not to stay forever.
RECENT_DAYS = 7


def describe_object(modality: str, acquired_at: dt.datetime | None, label: str) -> str:
    """What a refused object was, from its header (modality, acquisition time, the text routing reads)."""
    text = " | ".join(x.strip() for x in label.split("|") if x.strip())
    parts = [modality.strip(), acquired_at.strftime("%Y-%m-%d %H:%M") if acquired_at else "", text[:80]]
    return " — ".join(p for p in parts if p)


def refusal_sentences(store, lang: str = "fr", now: dt.datetime | None = None) -> list[str]:
    """One sentence per (reason, sender) refused within RECENT_DAYS, latest first; markdown-safe."""
    now = now or dt.datetime.now()
    since = (now - dt.timedelta(days=RECENT_DAYS)).replace(microsecond=0).isoformat(sep=" ")
    out = []
    for r in refusals_since(store, since):
        sender = f"{r['ae_title'] or '?'} ({r['address'] or '?'})"
        what = t("intake.refused.what", lang, what=md_escape(r["what"])) if r["what"] else ""
        first, last = r["first_at"][:16], r["last_at"][:16]
        when = t("intake.refused.when_one" if first == last else "intake.refused.when_range", lang, first=first, last=last)
        out.append(t(f"intake.refused.{r['reason']}", lang, n=r["n"], sender=md_escape(sender), when=when,
                     limit=f"{r['limit_mb']:g}", what=what))
    return out
