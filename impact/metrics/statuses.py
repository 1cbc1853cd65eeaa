"""Where the women are now: the mix of latest known statuses over time (rows of the metric
table: at_risk_followed by period and latest_status, whose total is the job-exit rate's
denominator), and monthly income by status, read as the stock metrics read follow-ups: known
ones dated by the period's end, each woman by her latest."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.contract.tables import EMPLOYMENT_STATUSES
from impact.metrics.engine import Selection, bounds, filtered
from impact.metrics.intervals import ratio
from impact.metrics.prepared import PARTICIPANT_DIMENSIONS

STATUS_ORDER = {s: i for i, s in enumerate(EMPLOYMENT_STATUSES)}
STATUS_KEY = "at_risk_followed"
STATUS_BY = "latest_status"


def _latest(followups: pd.DataFrame) -> pd.DataFrame:
    """Each participant's latest row (follow-ups are sorted by pidx, date and row)."""
    return followups.drop_duplicates("pidx", keep="last")


def _in_status_order(column: pd.Series) -> pd.Series:
    return column.map(STATUS_ORDER) if column.name in ("employment_status", STATUS_BY) else column


def status_shares(rows: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """The status mix from the metric table: `rows` is at_risk_followed by a time grain and
    latest_status, `totals` the same by the time grain alone (exact, or both protected for a
    donor). Columns period_start, period_end, latest_status, participants, total, share
    (participants / the period's total), suppressed; periods not reported yet, statuses
    nobody has and withheld totals are left out, a withheld status stays (no share)."""
    columns = ["period_start", "period_end", STATUS_BY, "participants", "total", "share", "suppressed"]
    rows = rows[(rows["metric"] == STATUS_KEY) & rows[STATUS_BY].notna()]
    total = totals[totals["metric"] == STATUS_KEY].set_index("period_start")["value"]
    out = rows.assign(participants=rows["value"].astype(float),
                      total=rows["period_start"].map(total).astype(float).to_numpy(),
                      suppressed=rows["suppressed"].to_numpy(dtype=bool) if "suppressed" in rows else False)
    out = out[(out["total"] > 0) & ((out["participants"] > 0) | out["suppressed"])]
    out = out.assign(share=ratio(out["participants"], out["total"]))
    out = out.sort_values(["period_start", STATUS_BY], key=_in_status_order, kind="stable")
    return out.reset_index(drop=True)[columns]


def income_by_status(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """Participants registered by the period's end who pass its filters; for each, her latest
    known follow-up by then that has an income recorded. By that follow-up's status: how many
    women, and the median and quartiles of their monthly income (as stored, in USD)."""
    _, end = bounds(selection, today)
    f = prepared.followups
    intake = prepared.participants["intake_date"].to_numpy()[f["pidx"].to_numpy()]
    f = f[(intake <= np.datetime64(end)) & (f["followup_date"] <= end).to_numpy() & f["monthly_income"].notna()]
    f = filtered(prepared, f, selection, PARTICIPANT_DIMENSIONS)
    columns = ["employment_status", "participants", "median_income", "low_quartile", "high_quartile"]
    if f.empty:
        return pd.DataFrame(columns=columns)
    income = _latest(f).groupby("employment_status", observed=True)["monthly_income"]
    out = pd.DataFrame({"participants": income.size(), "median_income": income.median(),
                        "low_quartile": income.quantile(0.25), "high_quartile": income.quantile(0.75)})
    out = out.reset_index()
    out["employment_status"] = out["employment_status"].astype(object)
    return out.sort_values("employment_status", key=_in_status_order).reset_index(drop=True)[columns]
