"""`python -m impact ...`: the same library for scripts and scheduled reports.

Bad input (missing, empty, corrupt, password-protected or non-spreadsheet files) gives one
clear line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from impact import config

from impact.intake import isolated

from impact.present import formatting
from impact.metrics.catalog import METRICS, Kind
from impact.intake.cleaning import BadValue, parse_date
from impact.intake.pipeline import ingest_files, no_data_rows
from impact.intake.parsing import expand_paths, file_bytes, load_files
from impact.metrics.engine import DIMENSIONS, TIME_GRAINS, Selection, compute, dimension_values
from impact.metrics.prepared import prepare
from impact.intake.load_report import LoadResult
from impact.store import StoreUnavailable
from impact.contract.tables import TABLES
from impact.intake.reading import UnreadableFile

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m impact", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    load = sub.add_parser("load", help="read field workbooks, report every problem, ingest into the store")
    load.add_argument("paths", nargs="+", metavar="PATH", help="files or folders of .xlsx/.xls/.ods/.csv")
    load.add_argument("--json", action="store_true", help="print the report as JSON")
    load.add_argument("--store", help="SQLite file or database URL (default: the configured store)")
    load.add_argument("--dry-run", action="store_true", help="only check; change nothing")
    load.add_argument("--organization", help="organization of files that do not carry one")
    load.add_argument("--uploader", default="cli", help="who is loading (kept in the upload history)")

    metrics = sub.add_parser("metrics", help="compute every metric for a period, overall or broken down")
    metrics.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: the store)")
    metrics.add_argument("--json", action="store_true", help="print the metrics as JSON")
    metrics.add_argument("--by", action="append", default=[], choices=DIMENSIONS + tuple(TIME_GRAINS),
                         metavar="DIMENSION", help=f"break down by {', '.join(DIMENSIONS + tuple(TIME_GRAINS))} "
                                                   "(repeatable: two dimensions and one time grain at most)")
    metrics.add_argument("--from", dest="start", type=_date, help="first day of the period (inclusive)")
    metrics.add_argument("--to", dest="end", type=_date, help="last day of the period (inclusive; default today)")
    metrics.add_argument("--where", action="append", default=[], type=_condition, metavar="DIMENSION=VALUE",
                         help=f"only records of this value (repeatable: values of one dimension add up, "
                              f"dimensions narrow); dimensions: {', '.join(DIMENSIONS)}")
    metrics.add_argument("--organization", help="with PATHs: the organization of files that do not name one "
                                                "(not a filter: use --where organization=ORG)")
    metrics.add_argument("--store", help="SQLite file or database URL (default: the configured store)")

    template = sub.add_parser("template", help="write the blank field template workbook")
    template.add_argument("out", metavar="OUT.xlsx")

    upgrade = sub.add_parser("upgrade", help="bring the store's schema to this version's, keeping every upload "
                                             "(the dashboard does it at start-up too)")
    _store_option(upgrade)

    _users_parser(sub)
    _share_parser(sub)
    return parser


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="SQLite file or database URL (default: the configured store)")


def _users_parser(sub) -> None:
    from impact.access.accounts import ROLES
    users = sub.add_parser("users", help="staff accounts: add, remove, list, reset a password")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an account (the password is asked for, never an argument)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="director: everything (share links, restores, accounts); staff: upload and view")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    password = actions.add_parser("password", help="set a new password for an account")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    for name, text in (("remove", "delete an account"), ("disable", "stop an account from signing in"),
                       ("enable", "let a disabled account sign in again")):
        action = actions.add_parser(name, help=text)
        action.add_argument("username")
    listing = actions.add_parser("list", help="list the accounts (never their password hashes)")
    listing.add_argument("--json", action="store_true", help="print the accounts as JSON")
    for action in actions.choices.values():
        _store_option(action)


def _share_parser(sub) -> None:
    from impact.access.sharing import DONOR_PAGES
    share = sub.add_parser("share", help="share links for donors: create, list, revoke, verify")
    actions = share.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a link showing protected aggregates of one scope")
    create.add_argument("--organization", action="append", required=True, metavar="ORG",
                        help="organization shown (repeatable)")
    create.add_argument("--program", action="append", default=[], help="only these programs (repeatable; default all)")
    create.add_argument("--site", action="append", default=[], help="only these sites (repeatable; default all)")
    create.add_argument("--from", dest="start", type=_date,
                        help="first day of the shared period (default: the scope's first record in the store)")
    create.add_argument("--to", dest="end", type=_date, help="last day of the shared period (default: the end of the quarter it is viewed in)")
    create.add_argument("--page", action="append", default=[], choices=DONOR_PAGES,
                        help="pages shown (repeatable; default every donor page)")
    create.add_argument("--expires", required=True, metavar="30d|YYYY-MM-DD",
                        help="a number of days from now, or the last day the link works (UTC)")
    create.add_argument("--note", required=True, help='who the link is for, e.g. "Donor X"')
    create.add_argument("--by", required=True, metavar="USERNAME", help="the director creating the link")
    create.add_argument("--base-url", default="http://localhost:8501", help="the dashboard's address")
    create.add_argument("--json", action="store_true", help="print id, url, expires and scope as JSON")
    listing = actions.add_parser("list", help="list the links, newest first")
    listing.add_argument("--json", action="store_true", help="print the links as JSON")
    revoke = actions.add_parser("revoke", help="stop a link at once")
    revoke.add_argument("id", metavar="ID", help="the link's id (as share list shows it)")
    verify = actions.add_parser("verify", help="say whether a link or token opens, and what it shows")
    verify.add_argument("token", metavar="URL|TOKEN")
    verify.add_argument("--json", action="store_true", help="print the link as JSON")
    for action in actions.choices.values():
        _store_option(action)


def main(argv: list[str] | None = None) -> int:
    from impact.access.accounts import TooManyAttempts
    from impact.access.sharing import InvalidShareLink
    args = _parser().parse_args(_dashed_link_ids(sys.argv[1:] if argv is None else list(argv)))
    commands = {"load": _load, "metrics": _metrics, "template": _template, "users": _users, "share": _share,
                "upgrade": _upgrade}
    try:
        code = commands[args.command](args)
        sys.stdout.flush()      # here, where a closed pipe is caught, not at exit
        return code
    except BrokenPipeError:     # the reader stopped reading (`... | head`): what it read was whole
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # nothing left to flush at exit
        return 0
    except (UnreadableFile, ValueError, LookupError, PermissionError, TooManyAttempts,
            InvalidShareLink, StoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _open_store(target: str | None, create: bool):
    from impact.store import open_store
    target = target or config.store_url()
    if not create and "://" not in target and not Path(target).exists():
        return None
    return open_store(target)


def _load(args) -> int:
    """Every readable file is loaded; each unreadable or skipped one is one line on stderr,
    and then the exit code is 2."""
    isolated.start()   # its imports overlap with opening the store
    paths, unreadable = expand_paths(args.paths)
    store = _open_store(args.store, create=not args.dry_run)
    files = []
    for path in paths:
        try:
            files.append((path.name, file_bytes(path)))
        except UnreadableFile as exc:
            unreadable[str(path)] = str(exc)
    # The store's saved column mappings apply here too, or a reload would undo the Data page's.
    intake = ingest_files(store, files, args.organization, args.uploader, dry_run=args.dry_run)
    unreadable.update(intake.unreadable)
    unreadable.update({name: no_data_rows(name) for name in intake.empty})
    for message in unreadable.values():
        print(f"error: {message}", file=sys.stderr)
    if not intake.result.files:
        return EXIT_BAD_INPUT
    if args.json:
        print(intake.result.to_json())
    else:
        print(readable_report(intake.result))
        for outcome in intake.outcomes:
            print(f"store: {outcome.file_name}: {outcome.status}")
    return EXIT_BAD_INPUT if unreadable else 0


def _date(text: str) -> dt.date:
    try:
        return parse_date(text)
    except BadValue:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use yyyy-mm-dd or dd/mm/yyyy)") from None


def _metrics(args) -> int:
    if args.paths:
        result = load_files(args.paths, args.organization)
        tables = {name: result.table(name) for name in TABLES}
        if result.summary()["rows_rejected"]:
            print(f"note: {result.summary()['rows_rejected']} row(s) could not be loaded and are not counted; "
                  "`python -m impact load` lists them", file=sys.stderr)
    else:
        store = _open_store(args.store, create=False)
        if store is None:
            raise UnreadableFile("the store is empty: load workbooks first, or name files")
        tables = store.tables()
    prepared = prepare(tables)
    table = compute(prepared, Selection(args.start, args.end, _filters(prepared, args.where)), by=tuple(args.by))
    print(json.dumps({"metrics": metric_records(table, args.by)}, ensure_ascii=False, indent=2)
          if args.json else readable_metrics(table, args.by))
    return 0


def _condition(written: str) -> tuple[str, str]:
    """`--where DIMENSION=VALUE` as (dimension, value)."""
    dimension, equals, value = written.partition("=")
    dimension = dimension.strip()
    if not equals or not value.strip() or dimension not in DIMENSIONS:
        raise argparse.ArgumentTypeError(f"{written!r}: use DIMENSION=VALUE, DIMENSION one of {', '.join(DIMENSIONS)}")
    return dimension, value.strip()


def _filters(prepared, conditions: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """The selection's filters of `--where` conditions; a value the data does not have is an
    error naming those it has (a misspelt organization must not read as all of them)."""
    filters: dict[str, tuple[str, ...]] = {}
    for dimension, value in conditions:
        known = dimension_values(prepared, dimension)
        if value not in known:
            raise LookupError(f"--where {dimension}={value}: no such {dimension} in the data; "
                              f"known: {', '.join(known) or 'none'}")
        filters[dimension] = (*filters.get(dimension, ()), value)
    return filters


def metric_records(table, by: list[str]) -> list[dict]:
    """The command line's stable JSON items: rates as fractions, counts without num/den."""
    dims = [b for b in by if b not in TIME_GRAINS]
    number = lambda v: None if v != v else (int(v) if float(v).is_integer() else float(v))  # noqa: E731
    return [{
        "key": row["metric"], "group": {d: row[d] for d in dims},
        "period_start": _iso(row["period_start"]), "period_end": _iso(row["period_end"]),
        "value": number(row["value"]), "numerator": number(row["numerator"]),
        "denominator": number(row["denominator"]), "ci_low": number(row["ci_low"]),
        "ci_high": number(row["ci_high"]), **({"note": row["note"]} if row["note"] else {}),
    } for row in table.to_dict("records")]


def _iso(value) -> str | None:
    return None if value is None or value != value else value.date().isoformat()


def readable_metrics(table, by: list[str]) -> str:
    dims = [b for b in by if b not in TIME_GRAINS] + (["period_end"] if set(by) & set(TIME_GRAINS) else [])
    lines = []
    for row in table.to_dict("records"):
        m = METRICS[row["metric"]]
        group = " / ".join(str(row[d].date() if d == "period_end" else row[d]) for d in dims)
        if row["value"] != row["value"]:
            shown = row["note"] or "no data"
        elif m.kind == Kind.RATE:
            shown = formatting.rate_detail(row).replace("<br>", "; ")
        elif m.kind == Kind.AMOUNT:
            shown = formatting.amount_detail(row, m.unit if m.unit != "USD" else "members")
        elif m.kind == Kind.MEDIAN:
            shown = f"{formatting.count(row['value'])} {m.unit} (median of {formatting.count(row['denominator'])})"
        else:
            shown = formatting.count(row["value"])
        lines.append(f"{m.label:36} {group:30} {shown}")
    return "\n".join(lines)


def _template(args) -> int:
    from impact.intake.template import write_template
    path = write_template(Path(args.out))
    print(f"wrote {path}")
    return 0


def _existing_store(target: str | None):
    store = _open_store(target, create=False)
    if store is None:
        raise LookupError(f"no store at {target or config.store_url()}")
    return store


def _upgrade(args) -> int:
    from impact.migrations import HEAD
    _existing_store(args.store).close()     # opening a store upgrades it
    print(f"the store's schema is at revision {HEAD}, the newest")
    return 0


def _read_password(args, username: str) -> str:
    import getpass
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"password for {username}: ")
    if getpass.getpass("again: ") != password:
        raise ValueError("the two passwords differ")
    return password


def _users(args) -> int:
    from impact.access import accounts
    if args.action == "list":
        store = _open_store(args.store, create=False)
        users = accounts.list_users(store) if store else []
        if args.json:
            print(json.dumps([{**u, "created_at": u["created_at"].isoformat()} for u in users], indent=2))
        else:
            print(f"{'username':24} {'role':9} {'created (UTC)':17} status")
            for u in users:
                print(f"{u['username']:24} {u['role']:9} {u['created_at']:%Y-%m-%d %H:%M} "
                      f"{'disabled' if u['disabled'] else 'active'}")
        return 0
    username = accounts.normalize_username(args.username)
    if args.action == "add":
        store = _open_store(args.store, create=True)
        account = accounts.add_user(store, username, _read_password(args, username), args.role)
        print(f"added {account.username} ({account.role})")
    elif args.action == "password":
        store = _existing_store(args.store)
        if not any(u["username"] == username for u in accounts.list_users(store)):
            raise LookupError(f"no account named {username!r}")
        accounts.set_password(store, username, _read_password(args, username))
        print(f"new password set for {username}")
    elif args.action == "remove":
        accounts.remove_user(_existing_store(args.store), username)
        print(f"removed {username}")
    else:
        accounts.set_disabled(_existing_store(args.store), username, args.action == "disable")
        print(f"{args.action}d {username}")
    return 0


def _expires(text: str, now: dt.datetime) -> dt.datetime | dt.date:
    """`30d` (days from now) or the last day the link works."""
    text = text.strip().lower()
    if text.endswith("d") and text[:-1].isdigit():
        days = int(text[:-1])
        if not days:
            raise ValueError("--expires: at least 1d")
        return now + dt.timedelta(days=days)
    try:
        return parse_date(text)
    except BadValue:
        raise ValueError(f"--expires: {text!r} is neither a number of days (30d) nor a date (yyyy-mm-dd)") from None


def _token_of(text: str) -> str:
    """The token of a pasted share URL, or the text itself."""
    from urllib.parse import parse_qs, urlsplit

    from impact.access.sharing import SHARE_PARAM
    if "?" in text:
        values = parse_qs(urlsplit(text.strip()).query).get(SHARE_PARAM)
        return values[-1] if values else ""
    return text


def _dashed_link_ids(argv: list[str]) -> list[str]:
    """`share revoke|verify ID`: a link id, and the token it begins, may start with '-' (one in
    64 of the ids made before new ones avoided it), which argparse takes for an unknown option.
    Such an argument is moved after a `--`, where it can only be the id."""
    from impact.access.sharing import ID_OR_TOKEN
    if argv[:1] != ["share"] or argv[1:2] not in (["revoke"], ["verify"]) or "--" in argv:
        return argv
    dashed = [word for word in argv[2:] if word.startswith("-") and ID_OR_TOKEN.fullmatch(word)]
    return [word for word in argv if word not in dashed] + (["--", *dashed] if dashed else [])


def _share(args) -> int:
    from impact.access import sharing
    from impact.access.accounts import utc
    now = utc()
    if args.action == "create":
        scope = sharing.Scope(tuple(args.organization), tuple(args.program), tuple(args.site),
                              args.start, args.end, tuple(args.page))
        secret = sharing.server_secret()
        store = _open_store(args.store, create=True)
        token, link = sharing.create_link(store, secret, args.by, scope, _expires(args.expires, now), args.note, now)
        url = sharing.link_url(args.base_url, token, scope.first_page)
        if args.json:       # the link's scope: its start is the first record's when none was given
            print(json.dumps({"id": link.public_id, "url": url, "expires": link.expires_at.isoformat(),
                              "scope": link.scope.to_dict(), "note": link.note, "created_by": link.created_by},
                             ensure_ascii=False, indent=2))
        else:
            print(url)
        return 0
    if args.action == "list":
        store = _open_store(args.store, create=False)
        links = sharing.list_links(store) if store else []
        opens = sharing.open_counts(store) if store else {}
        records = [{**link.to_dict(now), "opens": opens.get(link.public_id, {}).get("opens", 0)}
                   for link in links]
        if args.json:
            print(json.dumps(records, ensure_ascii=False, indent=2))
        else:
            print(f"{'id':22}  {'status':7}  {'expires (UTC)':16}  {'opens':>5}  {'note':24}  scope")
            for link, record in zip(links, records):
                scope = link.scope
                shown = " / ".join(filter(None, [", ".join(scope.organizations), ", ".join(scope.programs),
                                                  ", ".join(scope.sites)]))
                period = f"{scope.period_start or '…'} – {scope.period_end or 'end of the quarter viewed'}"
                print(f"{link.public_id:22}  {record['status']:7}  {link.expires_at:%Y-%m-%d %H:%M}  "
                      f"{record['opens']:>5}  {link.note[:24]:24}  {shown}; {period}; {', '.join(scope.pages)}")
        return 0
    store = _existing_store(args.store)
    if args.action == "revoke":
        link = sharing.revoke(store, args.id, now)
        print(f"revoked {link.public_id} ({link.note}) at {link.revoked_at:%Y-%m-%d %H:%M} UTC")
        return 0
    link = sharing.verify(store, sharing.server_secret(), _token_of(args.token), now)
    print(json.dumps(link.to_dict(now), ensure_ascii=False, indent=2) if args.json
          else f"valid: {link.public_id} ({link.note}), expires {link.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0


def readable_report(result: LoadResult, max_issues: int = 50) -> str:
    summary = result.summary()
    lines = [f"{'file':40} {'org':8} {'read':>7} {'loaded':>7} {'rejected':>8} {'skipped':>7}"]
    for f in summary["files"]:
        lines.append(f"{f['file'][:40]:40} {f['organization'][:8]:8} {f['rows_read']:>7} "
                     f"{f['rows_loaded']:>7} {f['rows_rejected']:>8} {f['rows_skipped']:>7}")
    lines.append("")
    lines.append("loaded: " + ", ".join(f"{t} {n}" for t, n in summary["tables"].items() if n))
    headers = [i for i in summary["issues"] if i["scope"] != "cell"]
    cells = [i for i in summary["issues"] if i["scope"] == "cell"]
    if headers:   # first: a misread or unread column changes every row below it
        lines.append(f"\n{len(headers)} column and sheet issue(s):")
        lines += [f"  {i['file']} / {i['sheet']} / row {i['row']} / {i['column']}: {i['problem']}" for i in headers]
    if cells:
        lines.append(f"\n{len(cells)} issue(s):")
        for i in cells[:max_issues]:
            lines.append(f"  {i['file']} / {i['sheet']} / row {i['row']} / {i['column']}: "
                         f"{i['value']!r}: {i['problem']}")
        if len(cells) > max_issues:
            lines.append(f"  ... and {len(cells) - max_issues} more (use --json for all)")
    for d in summary["dropped_columns"]:
        lines.append(f"dropped column {d['file']} / {d['sheet']} / {d['column']}: {d['reason']}")
    for c in summary["conflicts"]:
        lines.append(f"conflict {c['organization']} {c['participant_id']} {c['column']}: "
                     + "; ".join(f"{f}={v}" for f, v in c["values"]))
    return "\n".join(lines)
