"""`python -m qc ...`: the command-line face of the same analysers, storage and reports.

    python -m qc tests                                   list the tests
    python -m qc analyse TEST FILE... [--machine NAME] [--json] [--store] [--date "YYYY-MM-DD[ HH:MM]"] [--nominal 100x100]
    python -m qc analyse helium --value helium_level_pct=72,5 --machine "Unity 1" --store
    python -m qc import mr_mv history.csv --machine "Unity 1" [--dry-run] [--json] [--skip-duplicates]
    python -m qc demo [--force]                          build the demo database
    python -m qc machines | add-machine NAME [--station S --serial N --cax U V --valid-from DATE]
    python -m qc export --test field --from 2026-01-01 --to 2026-12-31 --format csv [--dialect fr|en] [-o FILE]
    python -m qc report --machine NAME --month 2026-10 [-o FILE] [--lang en]
    python -m qc backup | backups | verify NAME | restore NAME [--force]
    python -m qc sign --machine NAME --month 2026-10 --by NAME [--comment TEXT]
    python -m qc event add --machine NAME --date 2026-10-03 --kind service|upgrade|recalibration|mlc_change|other [--note TEXT] [--by NAME]
    python -m qc event list [--machine NAME]
    python -m qc spc --machine NAME --test KEY --metric METRIC [--item ITEM] [--json]   control chart: limits, baseline, signals
    python -m qc add-user NAME --role admin|physicist|operator [--name "Display"] [--password-stdin | --sso --email E]
    python -m qc receive [--aet A --port P --allow-aet UNITY1 --allow-address IP]   DICOM receiver
    python -m qc watch FOLDER [--once] | inbox [--process] | retrieve --orthanc URL --from D --to D | review ID --by NAME

Bad input, and disk or database errors: one sentence on stderr, exit code 2. Nothing is stored for a failed
analysis. Image tests take the acquisition date from the files; files without one need --date (else exit 2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
from pathlib import Path

from qc.errors import DuplicateUploadError, QCInputError
from qc.i18n import DEFAULT_LANG, t

EXIT_BAD_INPUT = 2


def _lang(args) -> str:
    return getattr(args, "lang", None) or os.environ.get("QC_LANG", DEFAULT_LANG)


def cmd_tests(args) -> int:
    from qc.registry import all_tests
    from qc.records.storage import open_store

    lang = _lang(args)
    with open_store(args.data_dir) as store:
        tests = all_tests(store)
    if args.json:
        print(json.dumps([{"key": s.key, "name": s.name(lang), "frequency": s.frequency, "kind": s.kind} for s in tests], ensure_ascii=False))
        return 0
    width = max(len(s.key) for s in tests)
    for s in tests:
        print(f"{s.key:<{width}}  {s.kind:<7} {t('freq.' + s.frequency, lang):<14} {s.name(lang)}")
    return 0


def _parse_values(pairs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    values, comments = {}, {}
    for p in pairs:
        if "=" not in p:
            raise QCInputError("cli.err.value_syntax", value=p)
        k, v = p.split("=", 1)
        if k.endswith(".comment"):
            comments[k[: -len(".comment")]] = v
        else:
            values[k.strip()] = v
    return values, comments


def parse_date(text: str | None) -> dt.datetime | None:
    """`--date`: "YYYY-MM-DD" or "YYYY-MM-DD HH:MM" (ISO); anything else is one sentence, exit 2."""
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip()).replace(microsecond=0)
    except ValueError:
        raise QCInputError("cli.err.date_syntax", value=text) from None


def cmd_analyse(args) -> int:
    from qc import pipeline
    from qc.registry import get_test
    from qc.records.storage import open_store

    lang = _lang(args)
    with open_store(args.data_dir) as store:
        spec = get_test(args.test, store)  # imports that test's analyser only (none for a logged test)
        machine = store.resolve_machine(args.machine) if (args.machine or args.store) else None
        if spec.kind == "logged":
            if args.files:
                raise QCInputError("cli.err.logged_files", test=spec.key)
            values, comments = _parse_values(args.value or [])
            when = parse_date(args.date) or dt.datetime.now().replace(microsecond=0)
            if machine is None:
                machine = store.resolve_machine(None)
            analysis = pipeline.record_logged(store, spec, machine, values, acquired_at=when, comments=comments, lang=lang)
        else:
            if not args.files:
                raise QCInputError("err.no_files")
            from qc.readers.dicom_io import read_paths  # pydicom: image tests only

            inputs = read_paths(args.files)
            given = parse_date(args.date)
            options = _analyse_options(spec.key, args)
            analysis = pipeline.analyse(store, spec, inputs, machine, lang, options=options, acquired_at=given)
            if machine is None:
                # A machine known by the header's StationName/serial: analyse again with its calibration.
                known = store.machine_for_identity(analysis.result.station_name, analysis.result.device_serial)
                if known is not None:
                    analysis = pipeline.analyse(store, spec, inputs, known, lang, options=options, acquired_at=given)
        session_id = None
        if args.store:
            try:
                session_id = pipeline.store_analysis(
                    store, analysis, operator=args.operator or os.environ.get("USER", ""), comment=args.comment or "", allow_duplicate=args.allow_duplicate
                )
            except DuplicateUploadError as exc:
                print(exc.message(lang) + " " + t("cli.duplicate_hint", lang), file=sys.stderr)
                return EXIT_BAD_INPUT
    out = analysis.to_json_dict()
    if session_id is not None:
        out["session_id"] = session_id
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        _print_human(analysis, out, lang)
    return 0


def _analyse_options(test: str, args) -> dict | None:
    """The analyser options given on the command line (`--nominal 100x100`: the MVIC-Champ nominal field
    when the images' headers do not give it)."""
    if getattr(args, "nominal", None) is None:
        return None
    if test != "field":
        raise QCInputError("cli.err.nominal_field_only", test=test)
    from qc.mv.field import parse_nominal_mm

    nominal = parse_nominal_mm(args.nominal)
    return {"nominal_field_mm": nominal} if nominal else None


def _print_human(analysis, out: dict, lang: str) -> None:
    from qc.tolerances import format_bounds

    spec = analysis.spec
    print(f"{spec.name(lang)} — {out['acquired_at'] or '?'} — {t('status.' + out['status'], lang)}")
    for j in analysis.judged:
        label = spec.metric(j.name).label(lang) if spec.metric(j.name) else j.name
        item = f" [{j.item}]" if j.item else ""
        value = t("status.not_measured", lang) if j.value is None else f"{j.value:.4g} {j.unit}"
        print(f"  {label}{item}: {value}  ({format_bounds(j.bounds, j.unit)})  {t('status.' + j.display_status, lang)}")
    for w in out["warnings"]:
        print(f"  ! {w}")
    if "session_id" in out:
        print(t("cli.stored", lang, session=out["session_id"]))


def cmd_import(args) -> int:
    """A logged test's history from a CSV or .xlsx file, all rows or none (qc.intake.history_import)."""
    from qc.intake.history_import import MAX_IMPORT_BYTES, plan_import, store_import, _too_large
    from qc.registry import get_test
    from qc.records.storage import open_store

    lang = _lang(args)
    path = Path(args.file)
    if not path.is_file():
        raise QCInputError("err.no_such_file", file=str(path))
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise _too_large(path.name, path.stat().st_size)
    data = path.read_bytes()
    with open_store(args.data_dir) as store:
        spec = get_test(args.test, store)
        machine = store.resolve_machine(args.machine)
        plan = plan_import(store, spec, machine, path.name, data, lang=lang)
        ids: list[int] = []
        if plan.ok and not args.dry_run:
            try:
                ids = store_import(store, plan, user=args.operator or os.environ.get("USER", ""), skip_duplicates=args.skip_duplicates)
            except QCInputError as exc:
                if args.json:
                    print(json.dumps({**plan.to_json_dict(), "stored": [], "refused": exc.message(lang)}, ensure_ascii=False, indent=1))
                hint = " " + t("imp.cli.skip_hint", lang) if exc.key == "imp.err.duplicates_unconfirmed" else ""
                print(exc.message(lang) + hint, file=sys.stderr)
                return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps({**plan.to_json_dict(), "stored": ids, "dry_run": bool(args.dry_run)}, ensure_ascii=False, indent=1))
    else:
        for note in plan.notes:
            print(f"  ! {note}")
        for r in plan.rows:
            dup = f"  ({r.duplicate})" if r.duplicate else ""
            print(f"  {t('imp.col.line', lang)} {r.line}: {r.acquired_at:%Y-%m-%d %H:%M}  {t('status.' + r.status, lang)}{dup}")
    if not plan.ok:
        print(t("imp.err.nothing_stored", lang, n=len(plan.errors)), file=sys.stderr)
        for e in plan.errors:
            print(e, file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.dry_run:
        print(t("imp.cli.dry_run", lang, n=len(plan.to_store(args.skip_duplicates))), file=sys.stderr if args.json else sys.stdout)
    elif not args.json:
        print(t("imp.ui.stored", lang, n=len(ids), first=ids[0], last=ids[-1], skipped=len(plan.rows) - len(ids)))
    return 0


def cmd_demo(args) -> int:
    from qc.demo import build_demo

    lang = _lang(args)
    summary = build_demo(args.data_dir, force=args.force)
    print(t("cli.demo_built", lang, **summary))
    return 0


def cmd_machines(args) -> int:
    from qc.records.storage import open_store

    with open_store(args.data_dir) as store:
        for m in store.machines():
            cal = store.latest_calibration(m["id"])
            cax = f"CAX ({cal.u0:g}, {cal.v0:g}) px depuis {cal.valid_from[:10]}" if cal else "CAX: —"
            print(f"{m['name']}\tStationName={m['station_name']}\tSerial={m['device_serial']}\t{cax}")
    return 0


def cmd_add_machine(args) -> int:
    from qc.records.storage import EPOCH, open_store

    with open_store(args.data_dir) as store:
        mid = store.add_machine(args.name, args.station or "", args.serial or "", args.model or "", user=os.environ.get("USER", ""))
        valid_from = None
        if args.cax:
            # A machine's first beam axis applies to its past images too: by default from the earliest
            # stored session (else from the start of the records), never from today.
            valid_from = parse_date(args.valid_from) if args.valid_from else None
            valid_from = valid_from or store.earliest_acquisition() or EPOCH
            store.add_calibration(mid, args.cax[0], args.cax[1], str(valid_from), user=os.environ.get("USER", ""))
    print(args.name if valid_from is None else f"{args.name}\tCAX ({args.cax[0]:g}, {args.cax[1]:g}) px ≥ {str(valid_from)[:10]}")
    return 0


def cmd_export(args) -> int:
    from qc.records.export import export_metrics
    from qc.records.storage import open_store

    with open_store(args.data_dir) as store:
        machine_id = store.resolve_machine(args.machine)["id"] if args.machine else None
        data = export_metrics(
            store, test=args.test, machine_id=machine_id, date_from=args.date_from, date_to=args.date_to, fmt=args.format, include_voided=args.include_voided,
            lang=_lang(args), dialect=args.dialect,
        )
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_report(args) -> int:
    from qc.reporting.report import monthly_report_pdf
    from qc.records.storage import open_store

    lang = _lang(args)
    with open_store(args.data_dir) as store:
        machine = store.resolve_machine(args.machine)
        account = os.environ.get("USER") or os.environ.get("USERNAME") or ""
        by = t("report.by_cli", lang, user=account) if account else t("report.by_cli_anonymous", lang)
        pdf = monthly_report_pdf(store, machine["id"], args.month, lang=lang, generated_by=by)
    out = Path(args.output or f"rapport_{machine['name'].replace(' ', '_')}_{args.month}.pdf")
    out.write_bytes(pdf)
    print(out)
    return 0


def cmd_sign(args) -> int:
    from qc.records.storage import open_store

    with open_store(args.data_dir) as store:
        machine = store.resolve_machine(args.machine)
        store.sign_month(machine["id"], args.month, args.by, args.comment or "")
    print(f"{machine['name']} {args.month}: {args.by}")
    return 0


def cmd_event(args) -> int:
    """Record or list machine events (drawn on every trend; the drift signal restarts after them)."""
    from qc.records.storage import open_store

    lang = _lang(args)
    with open_store(args.data_dir) as store:
        machine = store.resolve_machine(args.machine) if args.machine else None
        if args.action == "add":
            if machine is None:
                raise QCInputError("event.err.machine", machine="--machine")
            if not args.date:
                raise QCInputError("event.err.date", value="--date")
            eid = store.add_event(machine["id"], args.date, args.kind, args.note or "", user=args.by or os.environ.get("USER", ""))
            print(f"{eid}\t{machine['name']}\t{args.date}\t{t('event.kind.' + args.kind, lang)}")
        else:
            for _, e in store.events(machine["id"] if machine else None).iterrows():
                print(f"{e['id']}\t{e['machine']}\t{e['occurred_at']:%Y-%m-%d}\t{t('event.kind.' + e['kind'], lang)}\t{e['note']}")
    return 0


def cmd_spc(args) -> int:
    """The control chart of one series: centre line, limits, baseline period, signals with dates and rules, a proposed step."""
    from qc.records.storage import open_store
    from qc.reporting.spc import describe, result_json, signal_text, signals_for

    lang = _lang(args)
    with open_store(args.data_dir) as store:
        machine = store.resolve_machine(args.machine)
        res = signals_for(store, machine["id"], args.test, args.metric, args.item or "")
        unit = next(iter(store.metrics_frame(machine_id=machine["id"], test=args.test, metric=args.metric)["unit"].dropna()), "") or ""
    if not len(res.values):
        raise QCInputError("spc.cli.empty", test=args.test, metric=args.metric, machine=machine["name"])
    if args.json:
        print(json.dumps({"machine": machine["name"], "test": args.test, "metric": args.metric, "item": args.item or "", "unit": unit,
                          **result_json(res, lang)}, ensure_ascii=False, indent=1))
        return 0
    print(f"{machine['name']} — {args.test} — {args.metric}{' — ' + args.item if args.item else ''}")
    for line in describe(res, unit, lang):
        print(line)
    print(t("spc.signals", lang, n=len(res.signals)) if res.signals else (t("spc.in_control", lang) if res.limits is not None else ""))
    for sig in res.signals:
        print("  " + signal_text(sig, lang))
    if res.step is not None:
        print(t("spc.step", lang, shift=f"{res.step.shift:+.3g}", unit=unit, date=f"{res.step.at:%Y-%m-%d}", detected=f"{res.step.detected_at:%Y-%m-%d}"))
    return 0


def cmd_add_user(args) -> int:
    import getpass

    from qc.records import auth
    from qc.records.storage import open_store

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.sso:
        password = None
    else:
        password = getpass.getpass("Mot de passe / password: ")
    with open_store(args.data_dir) as store:
        auth.add_user(store, args.username, args.name or args.username, args.role, password, email=args.email or "", by=os.environ.get("USER", "cli"))
    print(f"{args.username} ({args.role})")
    return 0


def cmd_backup(args) -> int:
    from qc.records import backup
    from qc.config import data_dir

    lang = _lang(args)
    path = backup.backup_now(args.data_dir, keep_days=args.keep_days)
    info = next(b for b in backup.list_backups(args.data_dir) if b.path == path)
    print(t("backup.done", lang, path=str(path), sessions=info.counts.get("sessions", 0), files=info.n_files))
    return 0


def cmd_backups(args) -> int:
    from qc.records import backup

    lang = _lang(args)
    items = backup.list_backups(args.data_dir)
    if not items:
        print(t("backup.none", lang))
    for b in items:
        print(f"{b.path.name}\t{b.created_at:%Y-%m-%d %H:%M:%S}\t{b.counts.get('sessions', 0)} sessions\t{b.n_files} files\t{b.path}")
    return 0


def _backup_path(args):
    from pathlib import Path as P

    from qc.records import backup

    p = P(args.backup)
    if not p.exists():
        p = backup.backups_dir(args.data_dir) / args.backup
    return p


def cmd_verify(args) -> int:
    from qc.records import backup

    report = backup.verify(_backup_path(args))
    print(backup.verify_message(report, _lang(args)))
    return 0 if report.ok else EXIT_BAD_INPUT


def cmd_restore(args) -> int:
    from qc.records import backup

    lang = _lang(args)
    report = backup.restore(_backup_path(args), args.data_dir, force=args.force, user=os.environ.get("USER", "cli"))
    print(t("backup.restored", lang, backup=str(report.restored_from), sessions=report.counts.get("sessions", 0), moved=str(report.moved_aside)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m qc", description="MR-Linac QC — command line")
    p.add_argument("--data-dir", default=None, help="data folder (default: $QC_DATA_DIR, else data/)")
    p.add_argument("--lang", choices=("fr", "en"), default=None)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("tests", help="list the tests")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_tests)

    s = sub.add_parser("analyse", aliases=["analyze"], help="analyse files (or typed values) for a test")
    s.add_argument("test")
    s.add_argument("files", nargs="*", help="DICOM files, folders or .zip (reports for piqt)")
    s.add_argument("--machine")
    s.add_argument("--json", action="store_true")
    s.add_argument("--store", action="store_true", help="store the result in the database")
    s.add_argument("--operator")
    s.add_argument("--comment")
    s.add_argument("--allow-duplicate", action="store_true", help="store even if a file is already stored")
    s.add_argument("--value", action="append", help="logged tests: FIELD=VALUE (FIELD.comment=TEXT for a failed item)")
    s.add_argument(
        "--date",
        help="acquisition date 'YYYY-MM-DD[ HH:MM]': image tests use it only when the files carry none "
        "(required then); logged tests: date of the check, default now",
    )
    s.add_argument("--nominal", help="field: nominal field size 'XxY' in mm (e.g. 100x100) when the headers do not give the jaws")
    s.set_defaults(func=cmd_analyse)

    s = sub.add_parser("import", help="import a logged test's history from a CSV or .xlsx file (all rows or none)")
    s.add_argument("test", help="a logged test, e.g. mr_mv, helium, output")
    s.add_argument("file", help="CSV (';' and decimal comma, or ',' and point) or .xlsx; one row per entry, a Date column")
    s.add_argument("--machine", help="machine name (optional when there is only one)")
    s.add_argument("--dry-run", action="store_true", help="check and judge every row, store nothing")
    s.add_argument("--json", action="store_true")
    s.add_argument("--skip-duplicates", action="store_true", help="skip entries already stored (same day and values) instead of refusing")
    s.add_argument("--operator", help="recorded on entries without an operator column (default: $USER)")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("demo", help="build the demo database (with demo images)")
    s.add_argument("--force", action="store_true", help="rebuild even if a database exists")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("machines", help="list machines")
    s.set_defaults(func=cmd_machines)
    s = sub.add_parser("add-machine", help="add a machine (and its CAX calibration)")
    s.add_argument("name")
    s.add_argument("--station")
    s.add_argument("--serial")
    s.add_argument("--model")
    s.add_argument("--cax", nargs=2, type=float, metavar=("U0", "V0"))
    s.add_argument("--valid-from", help="date the --cax calibration applies from (default: the earliest stored session)")
    s.set_defaults(func=cmd_add_machine)

    s = sub.add_parser("export", help="export stored results (CSV or Excel)")
    s.add_argument("--test")
    s.add_argument("--machine")
    s.add_argument("--from", dest="date_from")
    s.add_argument("--to", dest="date_to")
    s.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    s.add_argument("--include-voided", action="store_true")
    s.add_argument("--dialect", choices=("fr", "en"), help="CSV: fr = ';' and decimal comma (French Excel), en = ',' and decimal point; "
                   "default: the language's")
    s.add_argument("-o", "--output")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("report", help="monthly PDF report of a machine")
    s.add_argument("--machine", required=True)
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("-o", "--output")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("add-user", help="add a user for the shared server (QC_AUTH=password or oidc)")
    s.add_argument("username")
    s.add_argument("--name", help="display name")
    s.add_argument("--role", choices=("operator", "physicist", "admin"), required=True)
    s.add_argument("--email", help="e-mail used by the hospital's single sign-on (QC_AUTH=oidc)")
    s.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    s.add_argument("--sso", action="store_true", help="no password: the user logs in through single sign-on")
    s.set_defaults(func=cmd_add_user)

    s = sub.add_parser("backup", help="back up the database and the stored files now")
    s.add_argument("--keep-days", type=float, default=30.0, help="delete backups older than this (0 keeps all)")
    s.set_defaults(func=cmd_backup)
    s = sub.add_parser("backups", help="list the backups")
    s.set_defaults(func=cmd_backups)
    s = sub.add_parser("verify", help="check that a backup is whole and readable")
    s.add_argument("backup", help="backup folder or its name (YYYYmmdd-HHMMSS)")
    s.set_defaults(func=cmd_verify)
    s = sub.add_parser("restore", help="restore a backup (stop the app first); the current database is kept aside")
    s.add_argument("backup", help="backup folder or its name (YYYYmmdd-HHMMSS)")
    s.add_argument("--force", action="store_true", help="restore even if the current database has newer sessions")
    s.set_defaults(func=cmd_restore)

    s = sub.add_parser("sign", help="sign a machine's month (physicist)")
    s.add_argument("--machine", required=True)
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--by", required=True, help="signer's name")
    s.add_argument("--comment")
    s.set_defaults(func=cmd_sign)

    from qc.config import EVENT_KINDS  # not from qc.records.storage: building the parser must not import pandas

    s = sub.add_parser("event", help="record or list machine events (service, upgrade, recalibration, MLC change)")
    s.add_argument("action", choices=["add", "list"])
    s.add_argument("--machine")
    s.add_argument("--date", help="YYYY-MM-DD (add)")
    s.add_argument("--kind", choices=list(EVENT_KINDS), default="service")
    s.add_argument("--note")
    s.add_argument("--by", help="who records it")
    s.set_defaults(func=cmd_event)

    s = sub.add_parser("spc", help="control chart of one series: centre line, limits, baseline, signals (rule, date)")
    s.add_argument("--machine", help="machine name (optional when there is only one)")
    s.add_argument("--test", required=True)
    s.add_argument("--metric", required=True)
    s.add_argument("--item", help="the item of a per-item metric (leaf pair, position...)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_spc)

    from qc.intake.commands import add_intake_commands

    add_intake_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    lang = _lang(args)
    try:
        return args.func(args)
    except QCInputError as exc:
        print(exc.message(lang).replace("\n", " "), file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
        # Disk full, read-only folder, database busy: one sentence, no traceback (issue 18).
        from qc.records.storage import database_error, disk_error

        if isinstance(exc, sqlite3.IntegrityError):
            raise
        err = disk_error(exc) if isinstance(exc, OSError) else database_error(exc)
        print(err.message(lang), file=sys.stderr)
        return EXIT_BAD_INPUT
