"""Clean tables from a few rows each, as `load_files` or the store hand them over, for tests
of the metrics and views that document a definition with a handful of women; and the
builders of one row each (`person`, `enrol`, ...) with the KWCD defaults the metric tests share."""
from __future__ import annotations

import functools

import pandas as pd

from impact.contract.frames import typed
from impact.metrics.prepared import Prepared, prepare
from impact.contract.tables import TABLES


def clean_tables_with(defaults: dict[str, dict], **rows: list[dict]) -> dict[str, pd.DataFrame]:
    """Every stored column present with its dtype, and the spreadsheet row each came from."""
    return {name: _typed_rows(name, [{**defaults.get(name, {}), **r} for r in rows[name]]) if rows.get(name)
            else _empty(name).copy() for name in TABLES}


def _typed_rows(name: str, records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, index=range(len(records)))
    frame["source_sheet"] = name
    frame["source_row"] = range(2, len(records) + 2)
    return typed(frame, name)


@functools.cache
def _empty(name: str) -> pd.DataFrame:
    """A table without rows, typed once: most tests give rows to a few tables of nine, and
    typing a table costs a dozen pandas conversions (property tests build hundreds)."""
    return _typed_rows(name, [])


def prepared(organization: str, **rows: list[dict]) -> Prepared:
    return prepare(clean_tables_with({name: {"organization": organization} for name in TABLES}, **rows))


ORG = "KWCD"

# What a row holds when a test does not say: the columns it cares about are written out.
DEFAULTS: dict[str, dict] = {
    "participants": {"organization": ORG, "program": "Night Outreach", "site": "Phnom Penh",
                     "intake_date": "2024-01-10", "birth_year": 1998, "referral_source": "night_outreach",
                     "work_setting": "karaoke"},
    "enrollments": {"organization": ORG, "course": "Empowerment Training", "course_type": "life_skills",
                    "start_date": "2024-01-15", "status": "enrolled"},
    "followups": {"organization": ORG},
    "savings": {"organization": ORG, "group_id": "G1", "group_type": "karaoke workers", "deposit": 0.0},
    "activities": {"organization": ORG, "site": "Phnom Penh", "activity_type": "night_outreach_visit"},
    "services": {"organization": ORG, "service_type": "counselling", "status": "completed"},
    "targets": {},
}


def clean_tables(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    return clean_tables_with(DEFAULTS, **rows)


def row(result: pd.DataFrame, key: str, **dims) -> pd.Series:
    """The one row of `key` (and of the given group and period) in a result."""
    mask = result["metric"] == key
    for name, value in dims.items():
        mask &= result[name] == (pd.Timestamp(value) if name.startswith("period_") else value)
    found = result[mask]
    assert len(found) == 1, f"{key} {dims}: {len(found)} rows\n{result[result['metric'] == key]}"
    return found.iloc[0]


def fraction(r: pd.Series) -> tuple[float, float]:
    return r["numerator"], r["denominator"]


def person(pid: str, intake: str = "2024-01-10", **columns) -> dict:
    return {"participant_id": pid, "intake_date": intake, **columns}


def enrol(pid: str, course_type: str = "life_skills", start: str = "2024-01-15", end: str | None = None,
          status: str = "enrolled", **columns) -> dict:
    return {"participant_id": pid, "course_type": course_type, "start_date": start, "end_date": end,
            "status": status, **columns}


def check(pid: str, date: str, status: str, **columns) -> dict:
    return {"participant_id": pid, "followup_date": date, "employment_status": status, **columns}


def ledger(member: str, period: str, deposit: float = 0.0, withdrawal: float | None = None, **columns) -> dict:
    return {"member_id": member, "period": period, "deposit": deposit, "withdrawal": withdrawal, **columns}


def service(pid: str, date: str, status: str, **columns) -> dict:
    return {"participant_id": pid, "service_date": date, "status": status, **columns}


def activity(date: str, reached=None, new_contacts=None, **columns) -> dict:
    return {"activity_date": date, "reached": reached, "new_contacts": new_contacts, **columns}
