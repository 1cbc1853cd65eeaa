"""The targets table as a donor report reads it: one row per target, headers in the reader's
language, figures as written (`80%`, `2,500`, `$30`) and a status mark."""
from __future__ import annotations

import pandas as pd

from impact.present import formatting
from impact.metrics.catalog import METRICS
from impact.metrics.targets import Status
from impact.present.texts import text

STATUS_MARKS = {Status.ACHIEVED: "✅", Status.ON_TRACK: "🟡", Status.BEHIND: "🔴", Status.NO_DATA: "⚪"}
# The status right after the indicator: what a director reads first, never off the right edge.
REPORT_COLUMNS = ("indicator", "status", "organization", "program", "site", "from", "to", "target", "actual",
                  "percent_achieved", "note")
# The columns of a promise alone (`impact.access.protection.promised_targets`): what a donor sees.
PROMISE_COLUMNS = ("indicator", "organization", "program", "site", "from", "to", "target")


def target_report(progress: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Rows of `impact.metrics.targets.target_progress` as a donor report reads them, headers in `lang`:
    the indicator's name, scope ("All" for a blank program or site), period, target and actual
    as written (`80%`, `2,500`; a rate's actual with its n), percent achieved as a number of
    percent (94.6), and the status with its mark (✅ achieved, 🟡 on track, 🔴 behind). Of
    promised targets alone (no actuals), the `PROMISE_COLUMNS`."""
    if "actual" not in progress:
        progress = progress.assign(actual=float("nan"), numerator=float("nan"), denominator=float("nan"),
                                   percent_achieved=float("nan"), status="", note="")
        return target_report(progress, lang)[[text(c, lang) for c in PROMISE_COLUMNS]]
    def actual(row) -> str:
        if pd.isna(row.actual):
            return ""
        shown = formatting.written(row.actual, METRICS[row.indicator].kind)
        return f"{shown} ({row.numerator:,.0f} / {row.denominator:,.0f})" if pd.notna(row.denominator) else shown

    def name(key: str) -> str:
        return formatting.metric_label(key, lang) if key in METRICS else key

    status_keys = {s: "status_" + s.replace(" ", "_") for s in STATUS_MARKS}
    notes = {Status.NO_DATA: text("status_no_data", lang), "period has not started": text("not_started", lang),
             "unknown indicator": text("unknown_indicator", lang)}
    out = pd.DataFrame({
        "indicator": progress["indicator"].map(name),
        "organization": progress["organization"].astype(object).where(progress["organization"].notna(), ""),
        "program": progress["program"].astype(object).where(progress["program"].notna(), text("all", lang)),
        "site": progress["site"].astype(object).where(progress["site"].notna(), text("all", lang)),
        "from": progress["period_start"].map(formatting.day),
        "to": progress["period_end"].map(formatting.day),
        "target": progress["target_display"],
        "actual": [actual(r) for r in progress.itertuples()],
        "percent_achieved": (progress["percent_achieved"].astype(float) * 100).round(1),
        "status": [f"{STATUS_MARKS.get(s, '')} {text(status_keys[s], lang) if s in status_keys else s}".strip()
                   for s in progress["status"]],
        "note": [notes.get(n, n) for n in progress["note"].fillna("")],
    }, columns=list(REPORT_COLUMNS))
    return out.rename(columns={c: text(c, lang) for c in REPORT_COLUMNS})
