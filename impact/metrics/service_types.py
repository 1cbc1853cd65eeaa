"""Services by type: referrals by status, the completion rate per type (the catalog's
referral_completion_rate, its numerator and denominator evaluated per type), and the money
given as business loans and cash support."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from impact.metrics.catalog import metric
from impact.metrics.facts import FACTS, services
from impact.metrics.intervals import rate
from impact.metrics.engine import Selection, bounds, filtered, measure

FUNDING_TYPES = ("business_loan", "financial_support")
COMPLETION = "referral_completion_rate"
COLUMNS = ["service_type", "referrals", "completed", "pending", "declined", "numerator", "denominator",
           "completion_rate", "ci_low", "ci_high", "amount_count", "amount_total", "amount_median"]


def services_by_type(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """Services dated in the period for participants who pass the filters, by service_type:
    referrals by status, and completed / decided (the referral_completion_rate numerator and
    denominator) with the rate and its interval; for the types that carry money, the completed
    ones' recorded amounts (count, total, median; in USD as stored)."""
    start, end = bounds(selection, today)
    s = filtered(prepared, services(prepared, start, end), selection, FACTS["services"].dimensions)
    if s.empty:
        return pd.DataFrame(columns=COLUMNS)
    m = metric(COMPLETION)
    s = s.assign(numerator=measure(s, m.numerator), denominator=measure(s, m.denominator),
                 given=s["amount"].where(s["status"] == "completed"))
    by_status = s.groupby(["service_type", "status"], observed=True).size().unstack(fill_value=0)
    out = by_status.reindex(columns=["completed", "pending", "declined"], fill_value=0)
    out.insert(0, "referrals", by_status.sum(axis=1))
    grouped = s.groupby("service_type", observed=True)
    out = out.join(grouped[["numerator", "denominator"]].sum())
    out["completion_rate"], out["ci_low"], out["ci_high"] = rate(out["numerator"], out["denominator"])
    out = out.join(grouped["given"].agg(amount_count="count", amount_total="sum", amount_median="median"))
    money = out.index.isin(FUNDING_TYPES)
    for column in ("amount_count", "amount_total", "amount_median"):
        out[column] = out[column].where(money)
    out = out.reset_index()
    out["service_type"] = out["service_type"].astype(object)
    return out[COLUMNS]
