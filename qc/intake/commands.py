"""The command-line face of automatic intake (`python -m qc receive | watch | inbox | retrieve | review`).

Kept apart from `qc.cli` so that the intake commands live with the intake; `qc.cli.build_parser` adds them.
"""

from __future__ import annotations

import datetime as dt
import os

from qc.i18n import t


def _lang(args) -> str:
    return getattr(args, "lang", None) or os.environ.get("QC_LANG", "fr")


def _data_dir(args):
    from qc.config import data_dir

    return args.data_dir or data_dir()


def _print_processed(lines: list[dict], lang: str) -> None:
    for line in lines:
        if line.get("session_id"):
            print(t("cli.inbox.processed", lang, test=line["test"], images=line["images"], session=line["session_id"],
                    status=t("status." + line["status"], lang)))
        else:
            print(t("cli.inbox.failed", lang, test=line["test"], images=line["images"], error=line["error"]))


def cmd_receive(args) -> int:
    from qc.intake.receiver import ReceiverConfig, bounds_from, serve
    from qc.records.storage import open_store

    lang = _lang(args)
    data = _data_dir(args)
    open_store(data).close()  # create and migrate the database before the first association
    config = ReceiverConfig(
        ae_title=args.aet,
        port=args.port,
        address=args.address,
        allowed_ae_titles=[a for a in (args.allow_aet or []) if a],
        allowed_addresses=[a for a in (args.allow_address or []) if a],
        process_every_s=args.every,
        **bounds_from(lambda name: getattr(args, name, None)),
    )
    serve(data, config, lang=lang, on_listening=lambda: print(
        t("cli.receive.listening", lang, aet=config.ae_title, address=config.address, port=config.port), flush=True))
    return 0


def cmd_watch(args) -> int:
    from qc.intake.watch import watch
    from qc.records.storage import open_store

    lang = _lang(args)
    data = _data_dir(args)
    open_store(data).close()
    for name, kept, why in watch(data, args.folder, settle_s=args.settle, once=args.once, lang=lang):
        print(f"{name}: {kept}" + (f" — {why}" if why else ""))
    return 0


def cmd_inbox(args) -> int:
    from qc.intake import inbox
    from qc.records.storage import open_store

    lang = _lang(args)
    with open_store(_data_dir(args)) as store:
        if args.process:
            _print_processed(inbox.process_inbox(store, lang=lang, force=args.force), lang)
        for r in inbox.inbox_rows(store):
            print(f"{r['received_at']}\t{t('intake.state.' + r['state'], lang)}\t{r['station_name'] or '—'}\t{r['label'] or '—'}\t{r['reason'] or ''}")
        for s in store.pending_reviews():
            print(f"{t('intake.review.title', lang)}\t{s['id']}\t{s['test']}\t{s['machine']}\t{s['acquired_at']}\t{t('status.' + s['status'], lang)}")
    return 0


def cmd_retrieve(args) -> int:
    from qc.intake import inbox, pacs
    from qc.records.storage import open_store

    lang = _lang(args)
    d_from, d_to = dt.date.fromisoformat(args.date_from), dt.date.fromisoformat(args.date_to)
    with open_store(_data_dir(args)) as store:
        if args.orthanc:
            client = pacs.OrthancClient(args.orthanc, os.environ.get("QC_ORTHANC_USER", ""), os.environ.get("QC_ORTHANC_PASSWORD", ""))
            n = pacs.retrieve_from_orthanc(store, client, d_from, d_to)
        else:
            host, port = args.pacs.rsplit(":", 1)
            uids = pacs.find_studies(host, int(port), args.pacs_aet, d_from, d_to, calling_ae=args.aet)
            n = pacs.move_studies(host, int(port), args.pacs_aet, uids, args.aet, calling_ae=args.aet)
        print(t("cli.retrieve.done", lang, n=n))
        _print_processed(inbox.process_inbox(store, lang=lang, force=True), lang)
    return 0


def cmd_review(args) -> int:
    from qc.records.storage import open_store

    lang = _lang(args)
    with open_store(_data_dir(args)) as store:
        store.review_session(args.session, confirm=args.reject is None, user=args.by, reason=args.reject or "")
    print(t("intake.review.confirmed" if args.reject is None else "intake.review.rejected", lang, session=args.session))
    return 0


def add_intake_commands(sub) -> None:
    # from qc.config, not qc.intake.receiver: building the parser must not import pynetdicom
    from qc.config import RECEIVER_AE_TITLE as DEFAULT_AE_TITLE, RECEIVER_PORT as DEFAULT_PORT

    s = sub.add_parser("receive", help="DICOM receiver (Storage SCP): images sent by the Unity are analysed and wait for review")
    s.add_argument("--aet", default=DEFAULT_AE_TITLE, help=f"our AE title (default {DEFAULT_AE_TITLE})")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    s.add_argument("--address", default="0.0.0.0", help="address to listen on (default all)")
    s.add_argument("--allow-aet", action="append", help="calling AE title allowed (repeat; none = any)")
    s.add_argument("--allow-address", action="append", help="sender IP address allowed (repeat; none = any)")
    s.add_argument("--every", type=float, default=5.0, help="seconds between two looks for complete sessions")
    s.add_argument("--max-object-mb", dest="max_object_mb", type=float, help="largest object accepted, MB (default 64)")
    s.add_argument("--inbox-quota-mb", dest="inbox_quota_mb", type=float, help="disk quota of the inbox, MB (default 4096)")
    s.add_argument("--idle-s", dest="idle_timeout_s", type=float, help="a sender silent this long is cut, s (default 15)")
    s.add_argument("--association-max-s", dest="association_max_s", type=float, help="longest association, s (default 600)")
    s.add_argument("--max-associations", dest="max_associations", type=int, help="associations at once (default 10)")
    s.add_argument("--max-associations-per-address", dest="max_associations_per_address", type=int,
                   help="associations at once from one sender address (default 4)")
    s.set_defaults(func=cmd_receive)

    s = sub.add_parser("watch", help="take DICOM files dropped into a folder (moved to done/ or failed/)")
    s.add_argument("folder")
    s.add_argument("--settle", type=float, default=5.0, help="seconds a file must stay unchanged before it is read")
    s.add_argument("--once", action="store_true", help="one pass, then stop")
    s.set_defaults(func=cmd_watch)

    s = sub.add_parser("inbox", help="what was received and waits (to review, unassigned, failed)")
    s.add_argument("--process", action="store_true", help="analyse the complete sessions now")
    s.add_argument("--force", action="store_true", help="with --process: analyse incomplete sessions too")
    s.set_defaults(func=cmd_inbox)

    s = sub.add_parser("retrieve", help="back-fill: QC images of a date range from Orthanc or a PACS")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--orthanc", help="Orthanc URL, e.g. http://pacs:8042 (QC_ORTHANC_USER / QC_ORTHANC_PASSWORD)")
    g.add_argument("--pacs", help="PACS HOST:PORT (C-FIND then C-MOVE to our receiver)")
    s.add_argument("--pacs-aet", default="PACS", help="the PACS's AE title")
    s.add_argument("--aet", default=DEFAULT_AE_TITLE, help="our AE title (the C-MOVE destination the PACS knows)")
    s.add_argument("--from", dest="date_from", required=True)
    s.add_argument("--to", dest="date_to", required=True)
    s.set_defaults(func=cmd_retrieve)

    s = sub.add_parser("review", help="confirm (or reject with --reject REASON) a session analysed automatically")
    s.add_argument("session", type=int)
    s.add_argument("--by", required=True, help="who reviews")
    s.add_argument("--reject", help="reason for rejecting")
    s.set_defaults(func=cmd_review)
