"""Breakdowns the metric engine does not make, for the dashboard's topic pages: activities by
type, scholarships, the mix of follow-up statuses over time, income by status, services by
type, savings groups as metric rows, amounts in the reader's currency, and the targets a view
covers.

Pure functions of `Prepared` and a `Selection`, reading the selection exactly as the engine
does (`impact.subsets`: flows count rows dated in the period, "no start" meaning everything up
to the end; stocks are as at the period's end), and reusing the catalog's numerators and
denominators where a breakdown is a catalog metric, so a bar here adds up to the engine's total.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.catalog import AMOUNT, METRICS, RATE, metric
from impact.intervals import wilson_interval
from impact.metrics import TIME_GRAINS, Selection, periods
from impact.savings_groups import rate_for
from impact.subsets import bounds, participant_filters, participant_mask
from impact.tables import EMPLOYMENT_STATUSES
from impact.targets import display
from impact.texts import text

ACTIVITY_FILTERS = ("organization", "site")        # activities belong to their own organization and site
ACTIVITY_COUNTS = ("activities", "people_reached", "new_contacts")
FUNDING_TYPES = ("business_loan", "financial_support")
METRIC_COLUMNS = ["metric", "kind", "numerator", "denominator", "value", "ci_low", "ci_high", "note"]


def _in_period(dates: pd.Series, start, end) -> np.ndarray:
    keep = dates.notna() & (dates <= end)
    return (keep & (dates >= start) if start is not None else keep).to_numpy(dtype=bool, copy=True)


def _grid(prepared, start, end, grain: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    return periods(start if start is not None else (prepared.first_date or end), end, grain)


def activity_filters_left_out(selection: Selection) -> tuple[str, ...]:
    """The selection's filters activities cannot take (they have no participant attributes)."""
    return tuple(sorted(set(selection.filters) - set(ACTIVITY_FILTERS)))


def activity_summary(prepared, selection: Selection = Selection(), by: str | None = None,
                     today: dt.date | None = None) -> pd.DataFrame:
    """Activities (rows of the activity log), people reached and new contacts of the activities
    dated in the period, in total or by activity_type, organization, site, or month / quarter /
    year (then with period_start, period_end and every period of the selection, 0 where none).
    Empty when nothing matches, or when a filter cannot apply (`activity_filters_left_out`):
    a figure for all sites must not pass for one program's."""
    start, end = bounds(selection, today)
    a = prepared.activities
    keep = _in_period(a["activity_date"], start, end) & (not activity_filters_left_out(selection))
    for name in ACTIVITY_FILTERS:
        if name in selection.filters:
            keep &= a[name].isin(selection.filters[name]).to_numpy()
    a = a[keep]
    a = a.assign(activities=1.0, people_reached=a["reached"])
    if by in TIME_GRAINS:
        keys = ["period_start", "period_end"]
        if a.empty:
            return pd.DataFrame(columns=keys + list(ACTIVITY_COUNTS))
        grid = _grid(prepared, start, end, by)
        step = pd.DatetimeIndex([e for _, e in grid]).searchsorted(a["activity_date"], side="left")
        out = a.groupby(step)[list(ACTIVITY_COUNTS)].sum().reindex(range(len(grid)), fill_value=0)
        return pd.DataFrame({"period_start": [s for s, _ in grid], "period_end": [e for _, e in grid],
                             **{c: out[c].to_numpy(dtype=float) for c in ACTIVITY_COUNTS}})
    keys = [by] if by else []
    if a.empty:
        return pd.DataFrame(columns=keys + list(ACTIVITY_COUNTS))
    if not by:
        return a[list(ACTIVITY_COUNTS)].sum().to_frame().T.astype(float)
    out = a.groupby(by, observed=True)[list(ACTIVITY_COUNTS)].sum().reset_index()
    out[by] = out[by].astype(object)
    return out.astype({c: float for c in ACTIVITY_COUNTS})


def _participants_kept(prepared, selection: Selection) -> np.ndarray:
    """Per participant (pidx), whether she passes the selection's participant filters."""
    n = len(prepared.participants)
    return participant_mask(prepared, np.arange(n), participant_filters(selection))


def _rows_kept(prepared, pidx: np.ndarray, selection: Selection) -> np.ndarray:
    return participant_mask(prepared, pidx, participant_filters(selection))


def scholarships(prepared, selection: Selection = Selection(), by: str = "course",
                 today: dt.date | None = None) -> pd.DataFrame:
    """Enrollments that started in the period (participant, course and course-type filters
    applied), by course or course_type: how many, and how many with a scholarship (a blank
    scholarship cell is no)."""
    start, end = bounds(selection, today)
    e = prepared.enrollments
    keep = _in_period(e["start_date"], start, end) & _rows_kept(prepared, e["pidx"].to_numpy(), selection)
    for name in ("course", "course_type"):
        if name in selection.filters:
            keep &= e[name].isin(selection.filters[name]).to_numpy()
    e = e[keep]
    if e.empty:
        return pd.DataFrame(columns=[by, "enrollments", "with_scholarship"])
    out = e.groupby(by, observed=True).agg(enrollments=("pidx", "size"), with_scholarship=("scholarship", "sum"))
    out = out.reset_index()
    out[by] = out[by].astype(object)
    return out.astype({"enrollments": int, "with_scholarship": int})


def _latest(followups: pd.DataFrame) -> pd.DataFrame:
    """Each participant's latest row (follow-ups are sorted by pidx, date and row)."""
    return followups.drop_duplicates("pidx", keep="last")


def status_mix(prepared, selection: Selection = Selection(), grain: str = "quarter",
               today: dt.date | None = None) -> pd.DataFrame:
    """At each period's end (quarters by default) of the selection: the at-risk women registered
    by then who pass its filters and have a known follow-up by then, by their latest known
    status. Columns period_start, period_end, employment_status, participants, total, share;
    periods with nobody followed are left out. The share out of entertainment work is the
    job_exit_rate of that date, and `total` its denominator."""
    start, end = bounds(selection, today)
    p = prepared.participants
    eligible = _participants_kept(prepared, selection) & p["at_risk"].to_numpy(dtype=bool)
    f = prepared.followups[eligible[prepared.followups["pidx"].to_numpy()]]
    intake = p["intake_date"].to_numpy()[f["pidx"].to_numpy()]
    frames = []
    for period_start, period_end in _grid(prepared, start, end, grain) if len(f) else []:
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
    order = {s: i for i, s in enumerate(EMPLOYMENT_STATUSES)}
    out = out.sort_values(["period_start", "employment_status"], key=lambda c: c.map(order) if c.name ==
                          "employment_status" else c, kind="stable").reset_index(drop=True)
    out["share"] = out["participants"] / out["total"]
    return out[columns]


def income_by_status(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """Participants registered by the period's end who pass its filters; for each, her latest
    known follow-up by then that has an income recorded. By that follow-up's status: how many
    women, and the median and quartiles of their monthly income (as stored, in USD)."""
    _, end = bounds(selection, today)
    p = prepared.participants
    eligible = _participants_kept(prepared, selection) & (p["intake_date"] <= end).to_numpy()
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
    order = {s: i for i, s in enumerate(EMPLOYMENT_STATUSES)}
    return out.sort_values("employment_status", key=lambda c: c.map(order)).reset_index(drop=True)[columns]


def services_by_type(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """Services dated in the period for participants who pass the filters, by service_type:
    referrals by status, and completed / decided (the referral_completion_rate numerator and
    denominator) with the rate and its interval; for the types that carry money, the completed
    ones' recorded amounts (count, total, median; in USD as stored)."""
    start, end = bounds(selection, today)
    s = prepared.services
    s = s[_in_period(s["service_date"], start, end) & _rows_kept(prepared, s["pidx"].to_numpy(), selection)]
    m = metric("referral_completion_rate")
    columns = ["service_type", "referrals", "completed", "pending", "declined", "numerator", "denominator",
               "completion_rate", "ci_low", "ci_high", "amount_count", "amount_total", "amount_median"]
    if s.empty:
        return pd.DataFrame(columns=columns)
    s = s.assign(numerator=np.asarray(s.eval(m.numerator), dtype=float),
                 denominator=np.asarray(s.eval(m.denominator), dtype=float),
                 given=s["amount"].where(s["status"] == "completed"))
    by_status = s.groupby(["service_type", "status"], observed=True).size().unstack(fill_value=0)
    out = by_status.reindex(columns=["completed", "pending", "declined"], fill_value=0)
    out.insert(0, "referrals", by_status.sum(axis=1))
    grouped = s.groupby("service_type", observed=True)
    out = out.join(grouped[["numerator", "denominator"]].sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        out["completion_rate"] = np.where(out["denominator"] > 0, out["numerator"] / out["denominator"], np.nan)
    out["ci_low"], out["ci_high"] = wilson_interval(out["numerator"], out["denominator"])
    out = out.join(grouped["given"].agg(amount_count="count", amount_total="sum", amount_median="median"))
    money = out.index.isin(FUNDING_TYPES)
    for column in ("amount_count", "amount_total", "amount_median"):
        out[column] = out[column].where(money)
    out = out.reset_index()
    out["service_type"] = out["service_type"].astype(object)
    return out[columns]


def as_metric_rows(frame: pd.DataFrame, key: str, dimension: str, numerator: str, denominator: str) -> pd.DataFrame:
    """A breakdown made outside the engine (per savings group, per service type) in the engine's
    long shape, so `impact.charts.bars` draws it as any metric: value = numerator /
    denominator (no data without a denominator), with the Wilson interval for a rate."""
    num = frame[numerator].to_numpy(dtype=float)
    den = frame[denominator].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den > 0, num / den, np.nan)
    low, high = wilson_interval(num, den) if METRICS[key].kind == RATE else (np.full(len(frame), np.nan),) * 2
    out = pd.DataFrame({dimension: frame[dimension].to_numpy(), "metric": key, "kind": METRICS[key].kind,
                        "numerator": num, "denominator": den, "value": value, "ci_low": low, "ci_high": high})
    out["note"] = np.where(np.isnan(value), "no data", "")
    return out[[dimension] + METRIC_COLUMNS]


def in_currency(table: pd.DataFrame, currency: str = "USD", khr_per_usd: float | None = None) -> pd.DataFrame:
    """A metric table with its amounts (value and numerator of amount metrics, stored in USD)
    in `currency`; rates and counts unchanged."""
    out = table.copy()
    amounts = (out["kind"] == AMOUNT).to_numpy()
    factor = rate_for(currency, khr_per_usd)
    for column in ("value", "numerator"):
        out[column] = out[column].astype(float)
        out.loc[amounts, column] = out.loc[amounts, column] * factor
    return out


def targets_in_view(progress: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The rows of `impact.targets.target_progress` a view covers: target periods overlapping
    the selection's period, and, for each organization, program or site filter, targets
    scoped to one of its values (a target for all sites is not one site's)."""
    keep = progress["period_end"].notna().to_numpy(dtype=bool, copy=True)
    if selection.end is not None:
        keep &= (progress["period_start"] <= pd.Timestamp(selection.end)).to_numpy()
    if selection.start is not None:
        keep &= (progress["period_end"] >= pd.Timestamp(selection.start)).to_numpy()
    for name in ("organization", "program", "site"):
        if name in selection.filters:
            keep &= progress[name].isin(selection.filters[name]).to_numpy()
    return progress[keep].reset_index(drop=True)


def group_metrics(groups: pd.DataFrame) -> pd.DataFrame:
    """`impact.savings_groups.savings_by_group` as metric rows (savings_rate and
    savings_per_member, already in the groups' currency) per group, with its group type. A
    group is named by its group_id, prefixed by its organization where two share an id."""
    name = groups["group_id"].astype(str)
    shared_ids = name.duplicated(keep=False)
    name = name.where(~shared_ids, groups["organization"].astype(str) + " / " + name)
    named = groups.assign(group=name.to_numpy())
    parts = [as_metric_rows(named, "savings_rate", "group", "savers", "members"),
             as_metric_rows(named, "savings_per_member", "group", "net_savings", "members")]
    return pd.concat([p.assign(group_type=groups["group_type"].to_numpy()) for p in parts], ignore_index=True)


STATUS_MARKS = {"achieved": "✅", "on track": "🟡", "behind": "🔴", "no data": "⚪"}
# The status right after the indicator: what a director reads first, never off the right edge.
REPORT_COLUMNS = ("indicator", "status", "organization", "program", "site", "from", "to", "target", "actual",
                  "percent_achieved", "note")


def target_report(progress: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Rows of `impact.targets.target_progress` as a donor report reads them, headers in `lang`:
    the indicator's name, scope ("All" for a blank program or site), period, target and actual
    as written (`80%`, `2,500`; a rate's actual with its n), percent achieved as a number of
    percent (94.6), and the status with its mark (✅ achieved, 🟡 on track, 🔴 behind)."""
    def actual(row) -> str:
        if pd.isna(row.actual):
            return ""
        shown = display(row.actual, METRICS[row.indicator].kind)
        return f"{shown} ({row.numerator:,.0f} / {row.denominator:,.0f})" if pd.notna(row.denominator) else shown

    def name(key: str) -> str:
        m = METRICS.get(key)
        return key if m is None else (m.label_km if lang == "km" else m.label)

    status_keys = {s: "status_" + s.replace(" ", "_") for s in STATUS_MARKS}
    notes = {"no data": text("status_no_data", lang), "period has not started": text("not_started", lang),
             "unknown indicator": text("unknown_indicator", lang)}
    out = pd.DataFrame({
        "indicator": progress["indicator"].map(name),
        "organization": progress["organization"].astype(object).where(progress["organization"].notna(), ""),
        "program": progress["program"].astype(object).where(progress["program"].notna(), text("all", lang)),
        "site": progress["site"].astype(object).where(progress["site"].notna(), text("all", lang)),
        "from": progress["period_start"].dt.strftime("%d/%m/%Y"),
        "to": progress["period_end"].dt.strftime("%d/%m/%Y"),
        "target": progress["target_display"],
        "actual": [actual(r) for r in progress.itertuples()],
        "percent_achieved": (progress["percent_achieved"].astype(float) * 100).round(1),
        "status": [f"{STATUS_MARKS.get(s, '')} {text(status_keys[s], lang) if s in status_keys else s}".strip()
                   for s in progress["status"]],
        "note": [notes.get(n, n) for n in progress["note"].fillna("")],
    }, columns=list(REPORT_COLUMNS))
    return out.rename(columns={c: text(c, lang) for c in REPORT_COLUMNS})
