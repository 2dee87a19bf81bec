"""Command line of the workspace: python -m analytics import|sql|tables.

The same checks and messages as the Data page, for scripts and for trying things without a browser:
`import` reads a file the way the Import tab does (sniff, preflight, parse, one transaction), `sql` is the
SQL tab's read-only explorer, `tables` is the Tables tab's list. Refused input prints `error: ...` lines on
stderr and exits with status 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from analytics.compute import explorer
from analytics.db import Workspace, default_workspace_path, suggest_name
from analytics.errors import AnalyticsError
from analytics.ingest import importer, sniff, write

log = logging.getLogger(__name__)

EXIT_REFUSED = 2

DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", ",": ",", ";": ";", "\\t": "\t",
              "\t": "\t", "|": "|"}
"""--delimiter values: a name or the character itself (the delimiters the importer reads)."""

DESCRIPTION = """\
Strategy Lab's workspace from the command line.

The workspace is one DuckDB file holding the sample data (a fictional startup's market, product and
revenue tables) and every table you import. The app's Data page and this command use the same file,
the same checks and the same messages. The file is, in this order: --workspace PATH, $STRATLAB_WORKSPACE,
or data/workspace.duckdb. A new workspace gets the sample data first (a few seconds).

The app holds the file while it runs: stop it (or use another --workspace) before writing from here.
"""

EPILOG = """\
commands:
  import FILE   read a CSV, TSV, Parquet, Excel (.xlsx) or JSON Lines file into a new table
  sql QUERY     run one read-only SELECT (no writes, no file access; 1,000 rows at most, 10 s at most)
  tables        list the tables: rows, columns, who owns them, the file they came from

examples:
  python -m analytics tables
  python -m analytics import sales.csv --table sales_2025
  python -m analytics import export.txt --table leads --delimiter semicolon --encoding cp1252
  python -m analytics import sales.csv --table sales_2025 --replace        # overwrite your own table
  python -m analytics sql "select plan, count(*) as accounts from accounts group by plan"
  python -m analytics sql "select * from sales_2025" --csv sales.csv
  python -m analytics --workspace /tmp/scratch.duckdb tables

Refused input (a file that cannot be imported, a statement that is not a SELECT, a locked workspace)
prints `error: ...` on stderr and exits with status 2. Run `python -m analytics COMMAND --help` for
the options of one command.
"""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option as one `error:` line (plus a hint) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_REFUSED)


def delimiter(text: str) -> str:
    """argparse type: a delimiter by name (comma, semicolon, tab, pipe) or as the character."""
    found = DELIMITERS.get(text) or DELIMITERS.get(text.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"expected comma, semicolon, tab or pipe (or , ; | \\t), got {text!r}")
    return found


def build_parser() -> argparse.ArgumentParser:
    """The `python -m analytics` parser with its three commands."""
    parser = OneLineParser(prog="python -m analytics", description=DESCRIPTION, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    default = _shown(default_workspace_path())
    parser.add_argument("--workspace", metavar="PATH", default=None,
                        help=f"workspace file (default: $STRATLAB_WORKSPACE or {default})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)
    _add_import(sub)
    _add_sql(sub)
    tables = sub.add_parser("tables", help="list the tables", description="List every table: rows, columns, "
                            "owner (sample, app, imported or user) and, for imported ones, the source file.")
    _add_workspace(tables)
    return parser


def _add_workspace(parser: argparse.ArgumentParser) -> None:
    # also accepted after the command; SUPPRESS keeps a value given before it
    parser.add_argument("--workspace", metavar="PATH", default=argparse.SUPPRESS, help="workspace file")


def _add_import(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="import a file into a new table", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Import a file into a new table, with the Data page's checks: the format, encoding, "
                    "delimiter and header row are detected (override them below), column names are made "
                    "safe, and every problem is listed before anything is written.",
        epilog="examples:\n  python -m analytics import sales.csv --table sales_2025\n"
               "  python -m analytics import data.tsv --table survey --no-header\n"
               "  python -m analytics import book.xlsx --table budget --sheet 2026")
    p.add_argument("file", metavar="FILE", help="CSV, TSV, TXT, Parquet, XLSX, JSONL or NDJSON file")
    p.add_argument("--table", metavar="NAME",
                   help="name of the new table: letters, digits and underscores (default: from the file "
                        "name)")
    p.add_argument("--delimiter", type=delimiter, metavar="D",
                   help="comma, semicolon, tab or pipe (default: detect)")
    p.add_argument("--encoding", metavar="CODEC", choices=sniff.ENCODINGS,
                   help=f"text encoding, one of {', '.join(sniff.ENCODINGS)} (default: detect)")
    p.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                   help="whether the first row holds the column names (default: detect)")
    p.add_argument("--sheet", metavar="NAME", help="Excel sheet to read (default: the first)")
    p.add_argument("--replace", action="store_true", help="replace an imported table of the same name")
    _add_workspace(p)


def _add_sql(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sql", help="run one read-only SELECT", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Run one read-only SELECT over the workspace, as the Data page's SQL tab does: "
                    f"writes, file access and several statements are refused; results stop at "
                    f"{explorer.ROW_CAP:,} rows and queries after {explorer.TIMEOUT_S:g} s.",
        epilog="examples:\n  python -m analytics sql \"select count(*) from events\"\n"
               "  python -m analytics sql \"select * from competitors\" --csv competitors.csv\n"
               "  python -m analytics sql \"select * from plans\" --csv -        # CSV on stdout")
    p.add_argument("query", metavar="QUERY", help="one SELECT statement (quote it for the shell)")
    p.add_argument("--csv", metavar="OUT",
                   help="write the result as CSV to OUT ('-' for stdout) instead of a table")
    _add_workspace(p)


# ---------------------------------------------------------------- commands


def cmd_import(ws: Workspace, args: argparse.Namespace) -> int:
    """Import args.file as args.table; prints the plan, warnings and problems as the Import tab shows them."""
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as e:
        return _refused([f"cannot read {args.file}: {e.strerror or e}"])
    plan = importer.sniff_file(args.file, data, encoding=args.encoding, delimiter=args.delimiter,
                               has_header=args.header, sheet=args.sheet)
    _err(describe_plan(plan))
    for warning in plan.warnings:
        _err(f"warning: {warning}")
    table = args.table if args.table is not None else suggest_name(path.name)
    names = list(plan.suggested_names)
    problems = importer.preflight(ws, plan, table, names, replace=args.replace)
    if problems:
        return _refused([f"{plan.file_name} was not imported, nothing was written", *problems])
    frame = importer.parse_file(args.file, data, plan, names)
    result = write.import_table(ws, table, frame, args.file, plan, replace=args.replace)
    verb = "Replaced" if result.replaced else "Created"
    print(f"{verb} table '{result.table}' from {plan.file_name}: {result.row_count:,} rows, "
          f"{result.column_count} columns.")
    return 0


def describe_plan(plan: importer.ImportPlan) -> str:
    """One line of how the file will be read: 'Format CSV · Encoding utf-8 · Delimiter ',' · ...'."""
    return " · ".join(f"{label} {value}" for label, value in plan.facts())


def cmd_sql(ws: Workspace, args: argparse.Namespace) -> int:
    """Run args.query read-only; print the rows (or write --csv) and the explorer's notes on stderr."""
    result = explorer.run_query(ws, args.query)
    note = f"{len(result.frame):,} rows · {result.elapsed_s * 1000:,.0f} ms"
    notes = getattr(result, "notes", None)
    if notes is None:  # an explorer without notes: say what the page says about the row cap
        notes = [f"showing the first {explorer.ROW_CAP:,} rows; add a LIMIT or aggregate to see the rest"
                 ] if result.truncated else []
    if args.csv == "-":
        sys.stdout.buffer.write(explorer.to_csv_bytes(result.frame))
    elif args.csv:
        write_atomic(Path(args.csv), explorer.to_csv_bytes(result.frame))
        note += f" · written to {args.csv}"
    else:
        print(result.frame.to_string(index=False) if len(result.frame.columns) else "(no columns)")
    _err(note)
    for extra in notes:
        _err(f"note: {extra}")
    return 0


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and os.replace (all or nothing)."""
    folder = path.parent if str(path.parent) else Path(".")
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_tables(ws: Workspace, args: argparse.Namespace) -> int:
    """Print the Tables tab's list, with the source file of imported tables."""
    from analytics.compute.summary import summarize

    tables = summarize(ws).tables
    sources = dict(ws.query("imported_tables").itertuples(index=False, name=None))
    tables["source"] = [sources.get(name, "") for name in tables["table"]]
    print(tables.to_string(index=False))
    return 0


COMMANDS = {"import": cmd_import, "sql": cmd_sql, "tables": cmd_tables}


# ---------------------------------------------------------------- entry point


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _refused(lines: Sequence[str]) -> int:
    for line in lines:
        _err(f"error: {' '.join(str(line).split())}")
    return EXIT_REFUSED


def _messages(error: AnalyticsError) -> list[str]:
    """The error's message, then each of its problems (ImportValidationError) as the page lists them."""
    problems = [p for p in getattr(error, "problems", None) or [] if p != str(error)]
    return [str(error), *problems]


def _open(path_text: str | None) -> Workspace:
    path = Path(path_text).expanduser() if path_text else default_workspace_path()
    if not path.exists():
        _err(f"creating workspace {path} with the sample data (once; a few seconds)")
    return Workspace.open(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m analytics`; returns the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        ws = _open(args.workspace)
    except AnalyticsError as e:
        return _refused([str(e)])
    try:
        return COMMANDS[args.command](ws, args)
    except AnalyticsError as e:
        log.debug("command failed", exc_info=True)
        return _refused(_messages(e))
    except KeyboardInterrupt:
        _err("error: interrupted")
        return 130
    except BrokenPipeError:
        return 0
    finally:
        ws.close()
