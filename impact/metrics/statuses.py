"""Where the women are now: the mix of latest known follow-up statuses over time, and monthly
income by status. Both read follow-ups as the stock metrics do: known ones dated by the
period's end, each woman by her latest."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.metrics.engine import Selection, bounds, grid
from impact.metrics.subsets import passes
from impact.contract.tables import EMPLOYMENT_STATUSES

STATUS_ORDER = {s: i for i, s in enumerate(EMPLOYMENT_STATUSES)}


def _latest(followups: pd.DataFrame) -> pd.DataFrame:
    """Each participant's latest row (follow-ups are sorted by pidx, date and row)."""
    return followups.drop_duplicates("pidx", keep="last")


def _in_status_order(column: pd.Series) -> pd.Series:
    return column.map(STATUS_ORDER) if column.name == "employment_status" else column


def status_mix(prepared, selection: Selection = Selection(), grain: str = "quarter",
               today: dt.date | None = None) -> pd.DataFrame:
    """At each period's end (quarters by default) of the selection: the at-risk women registered
    by then who pass its filters and have a known follow-up by then, by their latest known
    status. Columns period_start, period_end, employment_status, participants, total, share;
    periods with nobody followed are left out. The share out of entertainment work is the
    job_exit_rate of that date, and `total` its denominator."""
    start, end = bounds(selection, today)
    p = prepared.participants
    eligible = passes(prepared, np.arange(len(p)), selection) & p["at_risk"].to_numpy(dtype=bool)
    f = prepared.followups[eligible[prepared.followups["pidx"].to_numpy()]]
    intake = p["intake_date"].to_numpy()[f["pidx"].to_numpy()]
    frames = []
    for period_start, period_end in grid(prepared, start, end, grain) if len(f) else []:
        upto = f[(f["followup_date"] <= period_end).to_numpy() & (intake <= np.datetime64(period_end))]
        counts = _latest(upto)["employment_status"].value_counts()
        counts = counts[counts > 0]
        if counts.sum():
            frames.append(pd.DataFrame({"period_start": period_start, "period_end": period_end,
                                        "employment_status": counts.index.astype(object),
                                        "participants": counts.to_numpy(), "total": counts.sum()}))
    columns = ["period_start", "period_end", "employment_status", "participants", "total", "share"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["period_start", "employment_status"], key=_in_status_order,
                          kind="stable").reset_index(drop=True)
    out["share"] = out["participants"] / out["total"]
    return out[columns]


def income_by_status(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """Participants registered by the period's end who pass its filters; for each, her latest
    known follow-up by then that has an income recorded. By that follow-up's status: how many
    women, and the median and quartiles of their monthly income (as stored, in USD)."""
    _, end = bounds(selection, today)
    p = prepared.participants
    eligible = passes(prepared, np.arange(len(p)), selection) & (p["intake_date"] <= end).to_numpy()
    f = prepared.followups
    f = f[eligible[f["pidx"].to_numpy()] & (f["followup_date"] <= end).to_numpy() & f["monthly_income"].notna()]
    columns = ["employment_status", "participants", "median_income", "low_quartile", "high_quartile"]
    if f.empty:
        return pd.DataFrame(columns=columns)
    income = _latest(f).groupby("employment_status", observed=True)["monthly_income"]
    out = pd.DataFrame({"participants": income.size(), "median_income": income.median(),
                        "low_quartile": income.quantile(0.25), "high_quartile": income.quantile(0.75)})
    out = out.reset_index()
    out["employment_status"] = out["employment_status"].astype(object)
    return out.sort_values("employment_status", key=_in_status_order).reset_index(drop=True)[columns]
