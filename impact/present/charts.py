"""Plotly figures for metric tables, as pure functions (no Streamlit), so a script or the
HTML report draws exactly what the dashboard shows.

Rates always carry their interval as error bars and their n on hover: a 100% from 3 women
must not look like a 100% from 300.
"""
from __future__ import annotations

import datetime as dt
import json
import textwrap
from functools import lru_cache
from urllib.parse import quote

import pandas as pd
import plotly.graph_objects as go

from impact.present import formatting
from impact.contract.provinces import ATTRIBUTION, boundaries, provinces
from impact.metrics.catalog import METRICS, Kind
from impact.metrics.engine import CANNOT_FILTER, NO_DATA, NOT_REPORTED
from impact.metrics.funnel import REACH
from impact.present.formatting import metric_label, metric_question
from impact.present.texts import text

PALETTE = ("#0F6E6E", "#E07A5F", "#3D405B", "#81B29A", "#F2CC8F", "#6D597A", "#B56576", "#355070")
FONT = "Noto Sans Khmer, Khmer OS, Hanuman, sans-serif"


def wrap(title: str, width: int = 50) -> str:
    """A long question on several lines (Plotly never wraps a title by itself)."""
    return "<br>".join(textwrap.wrap(title, width)) or title


def _layout(fig: go.Figure, title: str) -> go.Figure:
    title = wrap(title)
    lines = title.count("<br>")
    # The toolbar shown on hover stands on the right edge, not over the title's (wrapped) lines.
    fig.update_layout(title={"text": title, "x": 0, "font": {"size": 16}}, font={"family": FONT},
                      modebar={"orientation": "v"},
                      margin={"l": 10, "r": 40, "t": 50 + 28 * lines, "b": 10}, colorway=PALETTE,   # Khmer lines are tall
                      # below the axis labels, however long they are
                      legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                              "traceorder": "normal"},
                      hoverlabel={"font": {"family": FONT}}, clickmode="event+select")
    if fig.layout.showlegend is not False:
        fig.update_layout(margin_b=40)
    return fig


def _hover(row: pd.Series, key: str, currency: str = "USD") -> str:
    if METRICS[key].kind == Kind.RATE and row["denominator"] == row["denominator"]:
        return formatting.rate_detail(row)
    if METRICS[key].kind == Kind.AMOUNT:
        return formatting.amount_detail(row, "n", currency)
    return formatting.metric_value(key, row["value"])


def bars(table: pd.DataFrame, key: str, dimension: str, lang: str = "en", color: str | None = None,
         title: str | None = None, currency: str = "USD", labels: dict | None = None) -> go.Figure:
    """One metric by one dimension (optionally split by a second, as colours). Amounts are
    shown in `currency` (the table's values already converted); `labels` names the categories
    in the reader's language while the bars keep their values, so a click still filters."""
    rows = table[(table["metric"] == key) & table["value"].notna()]
    fig = go.Figure()
    for i, (name, part) in enumerate(rows.groupby(color, sort=False) if color else [(None, rows)]):
        error = None
        if METRICS[key].kind == Kind.RATE:
            error = {"type": "data", "symmetric": False, "array": (part["ci_high"] - part["value"]).tolist(),
                     "arrayminus": (part["value"] - part["ci_low"]).tolist(), "thickness": 1.2}
        fig.add_bar(x=part[dimension].astype(str).tolist(), y=part["value"].tolist(), name=str(name) if name else "",
                    error_y=error, marker_color=PALETTE[i % len(PALETTE)],
                    hovertext=[f"<b>{_name(x, labels)}</b><br>{_hover(r, key, currency)}"
                               for x, (_, r) in zip(part[dimension], part.iterrows())], hoverinfo="text",
                    customdata=part[dimension].astype(str).tolist())
    fig.update_layout(barmode="group", showlegend=bool(color), xaxis_title=text(dimension, lang) if dimension in
                      ("organization", "program", "site", "course", "group_type", "age_band") else None)
    _category_ticks(fig, rows[dimension], labels)
    if METRICS[key].kind == Kind.RATE:
        fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    elif METRICS[key].kind == Kind.AMOUNT:
        fig.update_yaxes(tickprefix="$" if currency == "USD" else "", ticksuffix=" ៛" if currency == "KHR" else "")
    return _layout(fig, title or metric_question(key, lang))


def time_axis(fig: go.Figure, starts: pd.Series, ends: pd.Series, grain: str | None) -> None:
    """Label a time axis by the periods drawn (points at each period's end): `03/2025` for
    months, `2025 Q1` for quarters, the year for years, never a time of day; at most twelve
    labels, evenly spread."""
    periods = pd.DataFrame({"start": pd.to_datetime(starts), "end": pd.to_datetime(ends)}).drop_duplicates("end")
    periods = periods.sort_values("end")
    if periods.empty:
        return
    label = {"quarter": formatting.quarter, "year": lambda d: f"{pd.Timestamp(d):%Y}"}.get(grain or "month",
                                                                                         formatting.month)
    every = -(-len(periods) // 12)
    shown = periods.iloc[::every]
    fig.update_xaxes(tickvals=list(shown["end"]), ticktext=[label(d) for d in shown["start"]])


def figure_of_period(value: str, period: str, title: str) -> go.Figure:
    """One figure with the period it is for: what a trend of a single period is."""
    fig = go.Figure()
    fig.add_annotation(text=f"<b>{value}</b>", x=0.5, y=0.6, xref="paper", yref="paper", showarrow=False,
                       font={"size": 40})
    fig.add_annotation(text=period, x=0.5, y=0.3, xref="paper", yref="paper", showarrow=False, font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=260, showlegend=False)
    return _layout(fig, title)


def trend(table: pd.DataFrame, key: str, lang: str = "en", color: str | None = None, grain: str | None = None,
          through: dt.date | None = None) -> go.Figure:
    """A metric over time (rows broken down by `grain`: month, quarter or year), with its
    interval. Periods not reported yet (no value: `impact.metrics.engine.reported`) are not
    drawn; a period only partly covered (by the selection or the data, which reaches
    `through`) is drawn as an open circle and says so on hover. A single period is drawn as
    its figure with its period, not as a one-point line."""
    rows = table[(table["metric"] == key) & table["value"].notna()].sort_values("period_end")
    if not color and len(rows) == 1:
        row = rows.iloc[0]
        shown = formatting.metric_value(key, row["value"])
        if METRICS[key].kind == Kind.RATE:
            shown += f" ({formatting.n_of(row['numerator'], row['denominator'])})"
        return figure_of_period(shown, formatting.period(row["period_start"], row["period_end"]),
                                metric_question(key, lang))
    partial = pd.Series(False, index=rows.index)
    if through is not None:
        partial = rows["period_end"] > pd.Timestamp(through)
    if grain is not None:
        calendar = rows["period_start"].dt.to_period(grain[0].upper())
        partial |= (rows["period_start"] > calendar.dt.start_time) | \
            (rows["period_end"] < calendar.dt.end_time.dt.normalize())
    covered_to = rows["period_end"] if through is None else rows["period_end"].clip(upper=pd.Timestamp(through))
    fig = go.Figure()
    for i, (name, part) in enumerate(rows.groupby(color, sort=False) if color else [(None, rows)]):
        colour = PALETTE[i % len(PALETTE)]
        if METRICS[key].kind == Kind.RATE:
            fig.add_scatter(x=list(part["period_end"]) + list(part["period_end"])[::-1],
                            y=list(part["ci_high"]) + list(part["ci_low"])[::-1], fill="toself",
                            line={"width": 0}, fillcolor=colour, opacity=0.15, hoverinfo="skip", showlegend=False)
        note = [("<br>" + text("partial_period", lang).format(start=formatting.day(s), end=formatting.day(e)))
                if p else "" for s, e, p in zip(part["period_start"], covered_to[part.index], partial[part.index])]
        fig.add_scatter(x=part["period_end"], y=part["value"], mode="lines+markers", name=str(name) if name else "",
                        line={"color": colour},
                        marker={"symbol": ["circle-open" if p else "circle" for p in partial[part.index]],
                                "size": [9 if p else 6 for p in partial[part.index]]},
                        hovertext=[f"<b>{formatting.period(r.period_start, r.period_end)}</b><br>{_hover(r, key)}{n}"
                                   for (_, r), n in zip(part.iterrows(), note)],
                        hoverinfo="text")
    if METRICS[key].kind == Kind.RATE:
        fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    else:   # counts from zero: a cut axis exaggerates a change
        fig.update_yaxes(rangemode="tozero")
    time_axis(fig, rows["period_start"], rows["period_end"], grain)
    fig.update_layout(showlegend=bool(color))
    return _layout(fig, metric_question(key, lang))


def note(engine_note: str, lang: str = "en") -> str:
    """An engine row's note (`impact.metrics.engine`: no data, not reported yet, cannot be
    filtered by ...) in the reader's language."""
    if engine_note == NOT_REPORTED:
        return text("not_reported_yet", lang)
    if engine_note == NO_DATA:
        return text("no_data", lang)
    if engine_note.startswith(CANNOT_FILTER):
        names = engine_note.removeprefix(CANNOT_FILTER).split(", ")
        return text("not_filtered_by", lang).format(names=", ".join(text(n, lang, default=n) for n in names))
    return engine_note


def _step_text(row, lang: str) -> str:
    """What a funnel bar says: its count (0 as 0), a rate step's share of its own base, or
    why there is no figure (withheld, not reported yet, cannot be filtered)."""
    if row.get("suppressed", False) is True:
        return str(row["display"])
    if row["count"] != row["count"]:
        return note(row["note"], lang) or formatting.MISSING
    shown = formatting.count(row["count"])
    if row["share"] == row["share"]:
        shown += " " + text("funnel_share_of", lang).format(share=formatting.percent(row["share"]),
                                                              of=formatting.count(row["of"]))
    return shown


def funnel(steps: pd.DataFrame, lang: str = "en") -> go.Figure:
    """The funnel (`impact.metrics.funnel.funnel_steps`) as bars, one per step from new contacts
    on, each its catalog metric's figure: counts, and for a rate step its share of its own base
    (so never above 100%), its definition on hover. People reached, an activity sum far larger
    than any step after it, is the subtitle, so the small steps stay readable."""
    reach = steps[steps["step"] == REACH].iloc[0]
    bars = steps[steps["step"] != REACH]
    labels = [text(f"funnel_{s}", lang) for s in bars["step"]]
    fig = go.Figure(go.Bar(y=labels, x=bars["count"].fillna(0).tolist(), orientation="h", marker_color=PALETTE[0],
                           text=[_step_text(r, lang) for _, r in bars.iterrows()], textposition="outside",
                           cliponaxis=False, hoverinfo="text",
                           hovertext=[f"<b>{label}</b><br>{text(f'funnel_note_{s}', lang)}"
                                      for label, s in zip(labels, bars["step"])]))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(rangemode="tozero", showticklabels=False, showgrid=False)
    fig.update_layout(showlegend=False, height=80 + 42 * len(bars))
    fig = _layout(fig, text("funnel_title", lang))
    fig.update_layout(title_subtitle_text=text("funnel_reach", lang).format(n=_step_text(reach, lang)),
                      margin_t=fig.layout.margin.t + 24, margin_r=160)
    return fig


# --- breakdowns that are not one catalog metric (impact.metrics.statuses, impact.metrics.cohorts, ...) ---

STATUS_COLOURS = {"entertainment_work": "#E07A5F", "alternative_employment": "#0F6E6E", "own_business": "#81B29A",
                  "studying": "#F2CC8F", "not_working": "#3D405B"}
LOST_COLOUR = "#B8B8B8"
NOT_DUE_COLOUR = "#E6E6E6"


def _name(value, labels: dict | None = None) -> str:
    if isinstance(value, pd.Timestamp):
        return formatting.month(value)
    return str(labels.get(value, value)) if labels else str(value)


def _category_ticks(fig: go.Figure, values: pd.Series, labels: dict | None) -> None:
    """Show categories by their label (Khmer, or words for codes); the data keep their values."""
    if labels:
        shown = list(dict.fromkeys(values.astype(str)))
        fig.update_xaxes(tickvals=shown, ticktext=[_name(v, labels) for v in shown])


def paired_rates(table: pd.DataFrame, keys: tuple[str, ...], dimension: str, title: str, lang: str = "en",
                 labels: dict | None = None) -> go.Figure:
    """Two (or more) rate metrics side by side for each category, each with its interval and
    n on hover, so one is never read without the other (job exit with follow-up coverage)."""
    fig = go.Figure()
    for i, key in enumerate(keys):
        part = table[(table["metric"] == key) & table["value"].notna()]
        fig.add_bar(x=part[dimension].astype(str).tolist(), y=part["value"].tolist(), name=metric_label(key, lang),
                    marker_color=PALETTE[i % len(PALETTE)],
                    error_y={"type": "data", "symmetric": False, "array": (part["ci_high"] - part["value"]).tolist(),
                             "arrayminus": (part["value"] - part["ci_low"]).tolist(), "thickness": 1.2},
                    hovertext=[f"<b>{_name(x, labels)}</b><br>{metric_label(key, lang)}: {_hover(r, key)}"
                               for x, (_, r) in zip(part[dimension], part.iterrows())], hoverinfo="text")
    fig.update_layout(barmode="group", showlegend=True, xaxis_title=text(dimension, lang)
                      if dimension in ("organization", "program", "site") else None)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    _category_ticks(fig, table[dimension], labels)
    return _layout(fig, title)


def _cell(value, is_money: bool, currency: str) -> str:
    if value != value or value is None:
        return "–"
    return formatting.money(value, currency) if is_money else formatting.count(value)


def counts(frame: pd.DataFrame, x: str, columns: dict[str, str], title: str, *, labels: dict | None = None,
           hover: dict[str, str] | None = None, stacked: bool = False, money_columns: tuple[str, ...] = (),
           currency: str = "USD", x_title: str | None = None, colours: dict[str, str] | None = None) -> go.Figure:
    """Bars of plain counts or amounts by a category (or a date): one trace per column of
    `columns` (column -> legend label), stacked or side by side. The hover names the
    category and gives every column of `columns` and `hover` with its label."""
    shown = {**columns, **(hover or {})}
    tips = [f"<b>{_name(row[x], labels)}</b><br>"
            + "<br>".join(f"{label}: {_cell(row[c], c in money_columns, currency)}" for c, label in shown.items())
            for _, row in frame.iterrows()]
    xs = frame[x].tolist() if pd.api.types.is_datetime64_any_dtype(frame[x]) else frame[x].astype(str).tolist()
    fig = go.Figure()
    for i, (column, name) in enumerate(columns.items()):
        fig.add_bar(x=xs, y=frame[column].astype(float).tolist(), name=name, hovertext=tips, hoverinfo="text",
                    marker_color=(colours or {}).get(column, PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="stack" if stacked else "group", showlegend=len(columns) > 1, xaxis_title=x_title)
    if money_columns and set(columns) <= set(money_columns) and currency == "USD":
        fig.update_yaxes(tickprefix="$")
    _category_ticks(fig, frame[x], labels)
    return _layout(fig, title)


def lines(frame: pd.DataFrame, x: str, y: str, title: str, *, color: str | None = None,
          labels: dict | None = None, hover: dict[str, str] | None = None, is_money: bool = False,
          currency: str = "USD", y_title: str | None = None, grain: str | None = None) -> go.Figure:
    """A plain value over time, one line per value of `color` (its label from `labels`); with a
    `grain`, x is the periods' end and the axis is labelled by the periods (`time_axis`)."""
    fig = go.Figure()
    for i, (name, part) in enumerate(frame.groupby(color, sort=True) if color else [(None, frame)]):
        tips = [f"<b>{_name(name, labels) + ', ' if color else ''}{_name(row[x])}</b><br>"
                f"{_cell(row[y], is_money, currency)}"
                + "".join(f"<br>{label}: {_cell(row[c], False, currency)}" for c, label in (hover or {}).items())
                for _, row in part.iterrows()]
        fig.add_scatter(x=part[x], y=part[y].astype(float), mode="lines+markers", name=_name(name, labels) if color
                        else "", line={"color": PALETTE[i % len(PALETTE)]}, hovertext=tips, hoverinfo="text")
    fig.update_layout(showlegend=bool(color), yaxis_title=y_title)
    fig.update_yaxes(rangemode="tozero")     # from zero: a cut axis exaggerates growth
    if is_money and currency == "USD":
        fig.update_yaxes(tickprefix="$")
    if grain:
        time_axis(fig, frame["period_start"], frame["period_end"], grain)
    return _layout(fig, title)


def status_mix(mix: pd.DataFrame, title: str, lang: str = "en", labels: dict | None = None) -> go.Figure:
    """Shares of latest known statuses by quarter (`impact.metrics.statuses.status_shares`),
    stacked to 100%, entertainment work first, with counts on hover (a withheld one says so)."""
    fig = go.Figure()
    for status, part in mix.groupby("latest_status", sort=False):
        fig.add_bar(x=formatting.quarters(part["period_start"]).tolist(), y=part["share"].fillna(0).tolist(),
                    name=_name(status, labels), marker_color=STATUS_COLOURS.get(status, PALETTE[2]),
                    hovertext=[f"<b>{_name(status, labels)}</b> {formatting.quarter(r.period_start)}<br>"
                               + (text("withheld_small", lang) if r.suppressed else
                                  f"{formatting.percent(r.share)} ({formatting.n_of(r.participants, r.total)})")
                               for r in part.itertuples()],
                    hoverinfo="text")
    fig.update_layout(barmode="stack", showlegend=True)
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(fig, title)


def cohorts(cells: pd.DataFrame, title: str, lang: str = "en") -> go.Figure:
    """Follow-up cohorts (`impact.metrics.cohorts.cohort_cells`): per milestone, each intake
    quarter's women stacked as out of entertainment work, still in it, lost to follow-up and
    not yet due, so the missing are as visible as the found and an open window is no loss;
    the share out with its interval on hover."""
    from plotly.subplots import make_subplots

    milestones = sorted(cells["milestone"].unique())
    fig = make_subplots(rows=1, cols=max(len(milestones), 1), shared_yaxes=True,
                        subplot_titles=[f"{m} {text('months_after_intake', lang)}" for m in milestones])
    parts = (("out_of_entertainment", PALETTE[0]), ("in_entertainment", PALETTE[1]),
             ("lost_to_followup", LOST_COLOUR), ("not_yet_due", NOT_DUE_COLOUR))
    for col, m in enumerate(milestones, start=1):
        rows = cells[cells["milestone"] == m]
        quarters = [formatting.quarter(pd.Period(q).start_time) for q in rows["intake_quarter"]]
        tips = [f"<b>{q}, {m} {text('months_after_intake', lang)}</b><br>"
                + (text("withheld_small", lang) if r.suppressed else
                   f"{text('out_of_entertainment', lang)}: {formatting.count(r.out_of_entertainment)} / "
                   f"{formatting.count(r.out_of_entertainment + r.in_entertainment)} "
                   + (f"({formatting.percent(r.share_out)}, 95% CI {formatting.interval(r.ci_low, r.ci_high)})"
                      if pd.notna(r.share_out) else "")
                   + f"<br>{text('lost_to_followup', lang)}: {formatting.count(r.lost_to_followup)} / "
                   f"{formatting.count(r.due)}<br>{text('not_yet_due', lang)}: {formatting.count(r.not_yet_due)}")
                for q, r in zip(quarters, rows.itertuples())]
        for name, colour in parts:
            fig.add_bar(x=quarters, y=rows[name].fillna(0).tolist(), name=text(name, lang), marker_color=colour,
                        legendgroup=name, showlegend=col == 1, hovertext=tips, hoverinfo="text", row=1, col=col)
    fig.update_layout(barmode="stack", showlegend=True)
    fig.update_annotations(font_size=13)
    fig = _layout(fig, title)
    fig.update_layout(margin_t=fig.layout.margin.t + 30)   # the milestones' titles sit under the question
    return fig


def survival(curve: pd.DataFrame, summary: dict, title: str, lang: str = "en", share: str = "share_still_in",
             at_risk: str = "still_followed", days_since: str = "days_since_intake") -> go.Figure:
    """A Kaplan–Meier curve (`impact.metrics.cohorts.time_to_exit`: the share still in entertainment
    work by days since intake; `impact.metrics.justice.time_to_verdict`: the share of cases still
    waiting by days since the report, with `share`, `at_risk` and `days_since` naming the curve's
    column and its words), as steps with their 95% band, and the median marked."""
    curve = curve.rename(columns={share: "share_still_in"})
    fig = go.Figure()
    step = {"shape": "hv", "width": 0}
    fig.add_scatter(x=curve["days"], y=curve["ci_high"], line=step, hoverinfo="skip", showlegend=False)
    fig.add_scatter(x=curve["days"], y=curve["ci_low"], line=step, fill="tonexty", fillcolor="rgba(15, 110, 110, 0.18)",
                    hoverinfo="skip", showlegend=False)
    fig.add_scatter(x=curve["days"], y=curve["share_still_in"], line={"shape": "hv", "color": PALETTE[0]},
                    name=text(share, lang), showlegend=False, hoverinfo="text",
                    hovertext=[f"<b>{r.days:,.0f} {text('days', lang)}</b><br>{text(share, lang)}: "
                               f"{formatting.percent(r.share_still_in)} "
                               f"(95% CI {formatting.interval(r.ci_low, r.ci_high)})<br>"
                               f"{text(at_risk, lang)}: {r.at_risk:,.0f}" for r in curve.itertuples()])
    fig.add_hline(y=0.5, line={"dash": "dot", "color": PALETTE[2], "width": 1})
    if summary.get("median_days") is not None:
        fig.add_vline(x=summary["median_days"], line={"dash": "dash", "color": PALETTE[1], "width": 1},
                      annotation_text=f"{text('median', lang)}: {summary['median_days']:,} {text('days', lang)}")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], title=text(share, lang))
    fig.update_xaxes(title=text(days_since, lang))
    return _layout(fig, title)


def _shown_count(row) -> float:
    """The count a row of case pathway or life table stands for: a count's value, a rate's
    numerator (NaN where withheld)."""
    return row["value"] if row["kind"] == Kind.COUNT else row["numerator"]


def case_pathway(steps: pd.DataFrame, title: str, lang: str = "en") -> go.Figure:
    """The justice pathway (`impact.metrics.justice.case_pathway`, exact or protected) as a
    funnel of cases: each step's count and its share of the cases reported; a withheld step
    shows why instead of a number."""
    counts = [_shown_count(r) for _, r in steps.iterrows()]
    shown = []
    for (_, r), n in zip(steps.iterrows(), counts):
        if n != n:
            shown.append(r.get("display") or text("no_data", lang))
        else:
            share = "" if r["kind"] == Kind.COUNT else f" ({formatting.percent(r['value'])} {text('of_reported', lang)})"
            shown.append(formatting.count(n) + share)
    labels = [formatting.category("step", step, lang) for step in steps["step"]]
    fig = go.Figure(go.Funnel(y=labels, x=[0 if n != n else n for n in counts], text=shown, textinfo="text",
                              hoverinfo="text", hovertext=[f"<b>{a}</b><br>{b}" for a, b in zip(labels, shown)],
                              marker={"color": PALETTE[0]}))
    return _layout(fig, title)


def life_table(table: pd.DataFrame, remaining: list[float], title: str, lang: str = "en",
               share: str = "share_still_in", at_risk: str = "still_followed", event: str = "funnel_exited_entertainment",
               days_since: str = "days_since_intake") -> go.Figure:
    """A life table (`impact.metrics.survival.life_table`, as a donor sees it): the share still
    without the event after each interval, drawn from the protected counts (`remaining`:
    `survival.share_after`), with the counts on hover; a withheld interval ends the line.
    `share`, `at_risk`, `event` and `days_since` name its words, as for `survival`."""
    hover = []
    for (_, r), left in zip(table.iterrows(), remaining):
        counts = (f"{text(at_risk, lang)}: {formatting.count(r['denominator'])}<br>"
                  f"{text(event, lang)}: {formatting.count(r['numerator'])}")
        hover.append(f"<b>{r['interval']} {text('days', lang)}</b><br>"
                     + (f"{text(share, lang)}: {formatting.percent(left)}<br>{counts}" if left == left
                        else r.get("display") or text("no_data", lang)))
    fig = go.Figure(go.Scatter(x=table["interval"], y=remaining, mode="lines+markers", line={"shape": "hv",
                                                                                            "color": PALETTE[0]},
                               hovertext=hover, hoverinfo="text"))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], title=text(share, lang))
    fig.update_xaxes(title=text(days_since, lang), type="category")
    return _layout(fig, title)


# --- the map of Cambodia's provinces ---

NO_DATA_COLOUR = "#D9D9D9"
MAP_SCALE = ((0.0, "#D8EEEA"), (1.0, PALETTE[0]))
# plotly.js fetches a world topojson from its CDN for any geo subplot, even with the base map
# off: an empty one, in the page itself, keeps the map offline (Plotly config `topojsonURL`;
# plotly.js appends "/<name>.json", which lands after the `#`).
MAP_CONFIG = {"displaylogo": False, "scrollZoom": False,
              "topojsonURL": "data:application/json," + quote(json.dumps(
                  {"type": "Topology", "objects": {}, "arcs": []}, separators=(",", ":"))) + "#"}


@lru_cache(maxsize=1)
def _features() -> dict[str, dict]:
    """ISO code -> the province's outline alone (id and geometry, no names or aliases), from
    the boundaries loaded once: what a figure carries of the map. Rings are wound the other
    way round: the file follows RFC 7946 (outer rings counter-clockwise), but plotly.js
    (d3-geo, on the sphere) reads a counter-clockwise ring as the whole globe but the province."""
    def rewound(geometry: dict) -> dict:
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        turned = [[ring[::-1] for ring in polygon] for polygon in polygons]
        return {"type": geometry["type"], "coordinates": turned if geometry["type"] == "MultiPolygon" else turned[0]}
    return {f["properties"]["iso"]: {"type": "Feature", "id": f["properties"]["iso"],
                                     "geometry": rewound(f["geometry"])} for f in boundaries()["features"]}


class _Outlines(dict):
    """A FeatureCollection of outlines that figures share rather than copy: plotly deep-copies
    a trace's data on every update, which for 3,300 vertices took most of the map's time.
    The outlines are never changed, so the copy can be the collection itself."""
    def __deepcopy__(self, memo):
        return self


def _outlines(codes: list[str]) -> dict:
    return _Outlines(type="FeatureCollection", features=[_features()[c] for c in codes])


def province_map(table: pd.DataFrame, key: str, lang: str = "en", title: str | None = None,
                 also: tuple[str, ...] = ()) -> go.Figure:
    """Cambodia's provinces coloured by one metric of a table broken down by `province` (exact,
    or protected for a donor), its n on hover with the province's name in `lang` and the
    metrics of `also` (job exit is never shown without follow-up coverage); grey where there
    is no data, or where a donor's figure is withheld (the hover says which). Each outline is
    in the figure once: the coloured trace holds the provinces with a value, the grey one the
    rest. A province's customdata is its English name, for a click to filter by."""
    by_province = {k: t.set_index("province") for k, t in table[table["province"].notna()].groupby("metric")}
    rows = by_province.get(key, pd.DataFrame(columns=["value"]))
    kind = METRICS[key].kind

    def line(metric: str, province: str) -> str:
        found = by_province.get(metric)
        row = found.loc[province] if found is not None and province in found.index else None
        if row is not None and bool(row.get("suppressed", False)):
            return str(row["display"])
        if row is None or row["value"] != row["value"]:
            return text("status_no_data", lang)
        return _hover(row, metric)

    def tip(province) -> str:
        name = province.name_km if lang == "km" else province.name
        return f"<b>{name}</b><br>" + "<br>".join(f"{metric_label(m, lang)}: {line(m, province.name)}"
                                                  for m in (key, *also))

    valued = [p for p in provinces() if p.name in rows.index and rows.at[p.name, "value"] == rows.at[p.name, "value"]]
    grey = [p for p in provinces() if p not in valued]
    fig = go.Figure()
    for part, z, scale in ((grey, [0] * len(grey), ((0, NO_DATA_COLOUR), (1, NO_DATA_COLOUR))),
                           (valued, [float(rows.at[p.name, "value"]) for p in valued], MAP_SCALE)):
        if not part:
            continue
        codes = [p.iso for p in part]
        fig.add_choropleth(geojson=_outlines(codes), locations=codes, z=z, colorscale=scale,
                           showscale=part is valued, zmin=0, zmax=max(z) if kind != Kind.RATE else 1,
                           marker={"line": {"color": "white", "width": 0.8}},
                           customdata=[p.name for p in part] if part is valued else None,
                           hovertext=[tip(p) for p in part], hoverinfo="text",
                           colorbar={"title": {"text": metric_label(key, lang), "side": "right"}, "thickness": 12,
                                     "tickformat": ".0%" if kind == Kind.RATE else ",.0f", "len": 0.8})
    fig.update_geos(visible=False, fitbounds="locations", projection_type="mercator", bgcolor="rgba(0,0,0,0)")
    fig.add_annotation(text=ATTRIBUTION, x=1, y=0, xref="paper", yref="paper", xanchor="right", yanchor="bottom",
                       showarrow=False, font={"size": 10, "color": "#6b6b6b"})
    fig.update_layout(showlegend=False, dragmode=False, height=460)
    return _layout(fig, title or metric_question(key, lang))
