"""Savings groups one by one.

The savings_rate and savings_per_member metrics answer "how are members doing overall" (and,
by month, how the money grows: the savings_per_member numerator); facilitators and donors also
compare groups ("114 of 124 karaoke-worker members saved"). Groups are read as the metrics read
the ledger: rows dated by the selection's end, net = deposits − withdrawals from the ledger's
start (stored in USD, riel converted at load), a saver is whoever the savings_rate numerator
says.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from impact.metrics.catalog import metric
from impact.metrics.intervals import rate
from impact.metrics.facts import FACTS
from impact.metrics.engine import Selection, as_metric_rows, bounds, filtered, measure
from impact.present.formatting import currency_rate

GROUP = ["organization", "group_id"]


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
    members["saver"] = measure(members, metric("savings_rate").numerator).astype(bool)   # the rate's numerator: 1 a saver
    out = members.groupby(GROUP, observed=True).agg(
        group_type=("group_type", "last"), members=("saver", "size"), savers=("saver", "sum"),
        net_savings=("net", "sum")).reset_index()
    out["savings_rate"], out["ci_low"], out["ci_high"] = rate(out["savers"], out["members"])
    out["net_savings"] *= currency_rate(currency, khr_per_usd)
    out["savings_per_member"] = out["net_savings"] / out["members"]
    out["organization"] = out["organization"].astype(object)
    out["group_id"] = out["group_id"].astype(object)
    out["group_type"] = out["group_type"].astype(object)
    out["currency"] = currency
    return out[["organization", "group_id", "group_type", "members", "savers", "savings_rate", "ci_low",
                "ci_high", "net_savings", "savings_per_member", "currency"]]


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
