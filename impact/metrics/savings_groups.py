"""Savings groups one by one, and savings over time.

The savings_rate and savings_per_member metrics answer "how are members doing overall";
facilitators and donors also compare groups ("114 of 124 karaoke-worker members saved") and
watch the money grow. Both views read the ledger as the metrics do: rows dated by the
selection's end, net = deposits − withdrawals from the ledger's start (stored in USD, riel
converted at load), a saver is whoever the savings_rate numerator says.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from impact.metrics.catalog import metric
from impact.metrics.intervals import rate
from impact.metrics.facts import FACTS
from impact.metrics.engine import Selection, as_metric_rows, bounds, filtered, periods
from impact.present.formatting import currency_rate

GROUP = ["organization", "group_id"]
CUMULATIVE_BY = ("group_type", "organization", "group_id")


def ledger(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """Savings rows dated by the selection's end, each with its group's latest group type,
    filtered: organization by the ledger's own organization, group type by the group's,
    other participant attributes through the member's registration (so an unregistered
    member drops out only when such a filter is set). Course filters do not apply."""
    _, end = bounds(selection, today)
    s = prepared.savings.iloc[: prepared.savings["period"].searchsorted(end, side="right")]  # sorted by period
    s = s.assign(group_type=s.groupby(GROUP, observed=True)["group_type"].transform("last"))
    return filtered(prepared, s, selection, FACTS["savers"].dimensions)


def savings_by_group(prepared, selection: Selection = Selection(), currency: str = "USD",
                     khr_per_usd: float | None = None, today: dt.date | None = None) -> pd.DataFrame:
    """Per savings group (organization, group_id, group_type) as at the selection's end:
    members (distinct members with ledger rows by then), savers (their net in this group
    above 0), savings_rate with its Wilson interval, net_savings and savings_per_member in
    `currency` (KHR at `khr_per_usd`, by default the configured rate). A member of two groups
    counts in each, with her rows in that group."""
    s = ledger(prepared, selection, today)
    members = s.groupby(GROUP + ["midx"], observed=True).agg(net=("net", "sum"), group_type=("group_type", "last"))
    members["saver"] = members.eval(metric("savings_rate").numerator)
    out = members.groupby(GROUP, observed=True).agg(
        group_type=("group_type", "last"), members=("saver", "size"), savers=("saver", "sum"),
        net_savings=("net", "sum")).reset_index()
    out["savings_rate"], out["ci_low"], out["ci_high"] = rate(out["savers"], out["members"])
    out["net_savings"] *= currency_rate(currency, khr_per_usd)
    out["savings_per_member"] = out["net_savings"] / out["members"]
    out["organization"] = out["organization"].astype(object)
    out["group_type"] = out["group_type"].astype(object)
    out["currency"] = currency
    return out[["organization", "group_id", "group_type", "members", "savers", "savings_rate", "ci_low",
                "ci_high", "net_savings", "savings_per_member", "currency"]]


def cumulative_savings(prepared, selection: Selection = Selection(), by: str | None = "group_type",
                       grain: str | None = "month", currency: str = "USD", khr_per_usd: float | None = None,
                       today: dt.date | None = None) -> pd.DataFrame:
    """Net savings from the ledger's start to the end of each month (quarter, year) of the
    selection, per group type (or organization, group, or overall with by=None), with the
    members who had joined by then: the line a chart of growing savings draws. Rows before
    the selection's start count in its first period, since savings accumulate."""
    if by is not None and by not in CUMULATIVE_BY:
        raise ValueError(f"by must be one of {', '.join(CUMULATIVE_BY)} or None")
    start, end = bounds(selection, today)
    s = ledger(prepared, selection, today)
    keys = [by] if by else []
    columns = ["period_start", "period_end", *keys, "net_savings", "members"]
    if s.empty:
        return pd.DataFrame(columns=columns)
    grid = periods(start or s["period"].iloc[0], end, grain)
    ends = pd.DatetimeIndex([e for _, e in grid])
    s = s.assign(step=ends.searchsorted(s["period"], side="left"),
                 joined=~s.duplicated(keys + ["midx"]))             # a member's first row under this key
    s = s.assign(**{k: s[k].astype(object) for k in keys})
    totals = s.groupby(keys + ["step"]).agg(net_savings=("net", "sum"), members=("joined", "sum"))
    every = pd.MultiIndex.from_product([sorted(s[k].unique()) for k in keys] + [range(len(grid))],
                                       names=keys + ["step"]) if keys else pd.RangeIndex(len(grid), name="step")
    totals = totals.reindex(every, fill_value=0)
    out = (totals.groupby(level=keys).cumsum() if keys else totals.cumsum()).reset_index()
    out["period_start"] = [grid[i][0] for i in out["step"]]
    out["period_end"] = [grid[i][1] for i in out["step"]]
    out["net_savings"] = out["net_savings"].astype(float) * currency_rate(currency, khr_per_usd)
    out["members"] = out["members"].astype(int)
    return out.sort_values([*keys, "period_start"]).reset_index(drop=True)[columns]


def group_metrics(groups: pd.DataFrame) -> pd.DataFrame:
    """`savings_by_group` as metric rows (savings_rate and savings_per_member, already in the
    groups' currency) per group, with its group type. A group is named by its group_id,
    prefixed by its organization where two share an id."""
    name = groups["group_id"].astype(str)
    shared_ids = name.duplicated(keep=False)
    name = name.where(~shared_ids, groups["organization"].astype(str) + " / " + name)
    named = groups.assign(group=name.to_numpy())
    parts = [as_metric_rows(named, "savings_rate", "group", "savers", "members"),
             as_metric_rows(named, "savings_per_member", "group", "net_savings", "members")]
    return pd.concat([p.assign(group_type=groups["group_type"].to_numpy()) for p in parts], ignore_index=True)
