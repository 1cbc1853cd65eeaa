"""The clean tables reshaped once per store version for fast metric computation.

Every participant gets an integer position (`pidx`); enrollments, follow-ups, services and
savings members carry it, so a filter or breakdown on a participant's attributes is an array
lookup, not a join. Every record keeps its permanent random key (`record_key`, for the cell-key
perturbation of donor views, `impact.disclosure`), but a savings row: a member counts as one, so
her rows carry her first row's (`member_key`); tables that were never stored (a load being
previewed) have none, and their records get key 0. Follow-ups keep only *known* ones (status not unknown), sorted by
participant, date and spreadsheet row: the explicit tie-breaker for two checks on one day.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from impact.contract.frames import merge_participants, typed
from impact.contract.provinces import place
from impact.contract.tables import AT_RISK_WORK_SETTINGS
from impact.metrics.histories import CourseHistory, FollowupHistory

NOT_RECORDED = "not recorded"
UNPLACED = "not placed"   # a site no province could be found for (the Data page lists them)
AGE_BANDS = ("under 18", "18-24", "25-34", "35+")
TRAINING = ("trained", "not_trained")
# Attributes of a participant that filter and break down every participant-based metric.
# A province is her site's (see `impact.contract.provinces`).
PARTICIPANT_DIMENSIONS = ("organization", "program", "site", "province", "age_band", "work_setting", "referral_source")


@dataclass
class Prepared:
    participants: pd.DataFrame   # index = pidx
    enrollments: pd.DataFrame
    followups: pd.DataFrame      # known follow-ups only, sorted by pidx, date, row
    services: pd.DataFrame
    savings: pd.DataFrame        # midx = savings member (organization, member_id); sorted by period;
                                 # organization is the ledger's own (members need not be registered)
    activities: pd.DataFrame
    targets: pd.DataFrame
    network_members: pd.DataFrame   # pidx where the member is a registered participant, else -1
    cases: pd.DataFrame             # counts with their defaults: survivors 1, minors and convictions 0

    @cached_property
    def followup_history(self) -> FollowupHistory:
        """The follow-ups arranged for a status as at any day (built by `prepare`)."""
        return FollowupHistory.of(self.followups, self.participants)

    @cached_property
    def course_history(self) -> CourseHistory:
        """The enrollments arranged for graduations and further courses as at any day (built by `prepare`)."""
        return CourseHistory.of(self.enrollments, len(self.participants))

    @property
    def first_date(self) -> pd.Timestamp | None:
        """The earliest date in the data: where "all time" starts."""
        dates = [self.participants["intake_date"].min(), self.activities["activity_date"].min(),
                 self.savings["period"].min(), self.services["service_date"].min(),
                 self.network_members["joined_date"].min(), self.cases["reported_date"].min()]
        dates = [d for d in dates if pd.notna(d)]
        return min(dates) if dates else None

    def sites_in(self, province: str) -> list[str]:
        """The registration sites placed in a province: what a click on it on the map filters by."""
        return sorted(self.participants.loc[self.participants["province"] == province, "site"].unique().astype(str))

    @property
    def unplaced_sites(self) -> list[str]:
        """Sites of participants, activities, network members or cases no province was found
        for: the maps leave them out, and the Data page lists them."""
        return sorted({str(site) for frame in (self.participants, self.activities, self.network_members, self.cases)
                       for site in frame.loc[frame["province"] == UNPLACED, "site"].unique()} - {NOT_RECORDED})


def age_band(birth_year: pd.Series, intake_date: pd.Series) -> pd.Categorical:
    age = intake_date.dt.year - birth_year.astype("Float64")
    bands = pd.cut(age.astype(float), [-np.inf, 17, 24, 34, np.inf], labels=AGE_BANDS)
    return bands.cat.add_categories([NOT_RECORDED]).fillna(NOT_RECORDED)


def _category(values: pd.Series) -> pd.Series:
    """Values as a category, blanks as "not recorded"; categories sorted. A category's codes are
    taken as they are (the store's tables); other text is factorized as it comes (arrow-backed
    text): no Python string per row, so 1M rows take a fraction of a second."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.cat.remove_unused_categories()
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, uniques = pd.factorize(values)
    labels = uniques.astype(object).tolist()
    if (codes < 0).any():
        labels.append(NOT_RECORDED)
        codes = np.where(codes < 0, len(labels) - 1, codes)
    order = sorted(range(len(labels)), key=labels.__getitem__)
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels))
    categories = pd.Index([labels[i] for i in order], dtype=object)
    return pd.Series(pd.Categorical.from_codes(rank[codes] if len(labels) else codes, categories=categories),
                     index=values.index)


def province(sites: pd.Series) -> pd.Series:
    """The province of each site, as a category: "not placed" where none can be found."""
    sites = sites.astype("category")
    named = [place(sites.cat.categories).get(s) or UNPLACED for s in sites.cat.categories]
    codes = sites.cat.codes.to_numpy()
    return pd.Series(np.array(named + [UNPLACED], dtype=object)[codes], index=sites.index).astype("category")


def _text(values: pd.Series) -> pa.Array:
    """Text values as one Arrow string array (arrow-backed `str` columns are taken as they are)."""
    array = pa.array(values.astype("str"), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _codes(values: pd.Series, labels: pa.Array) -> np.ndarray:
    """Each value's position in `labels`, -1 where it is blank or not there: Arrow hashes
    `labels` once and looks every value up in Arrow's strings (no Python string per value);
    a category's values are its codes, looked up through its few categories."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        positions = np.append(_codes(values.cat.categories.to_series(), labels), -1)   # [-1]: a blank
        return positions[values.cat.codes.to_numpy()]
    positions = pc.index_in(_text(values), value_set=labels)
    return pc.fill_null(positions, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _distinct(values: pd.Series) -> pa.Array:
    """The distinct text values, blanks left out (a category's own categories)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _text(values.cat.categories.to_series())
    return pc.unique(_text(values).drop_null())


@dataclass(frozen=True)
class _Register:
    """Participants' (organization, participant_id) as one integer each, to find a row's
    participant by integer hashing instead of a MultiIndex of Python strings."""
    organizations: pa.Array
    ids: pa.Array
    keys: pd.Index      # position = pidx

    @classmethod
    def of(cls, participants: pd.DataFrame) -> "_Register":
        organizations, ids = _distinct(participants["organization"]), _distinct(participants["participant_id"])
        register = cls(organizations, ids, pd.Index([], dtype=np.int64))
        return cls(organizations, ids, pd.Index(register.key(participants)))

    def key(self, frame: pd.DataFrame, org: str = "organization", pid: str = "participant_id") -> np.ndarray:
        org_codes, id_codes = _codes(frame[org], self.organizations), _codes(frame[pid], self.ids)
        return np.where((org_codes < 0) | (id_codes < 0), -1, org_codes * len(self.ids) + id_codes)

    def pidx(self, frame: pd.DataFrame, org: str = "organization", pid: str = "participant_id") -> np.ndarray:
        """Position of each row's participant, -1 where she is not registered (int32: half the
        memory of the 11.5M rows' positions at 1M participants)."""
        key = self.key(frame, org, pid)
        return np.where(key < 0, -1, self.keys.get_indexer(key)).astype(np.int32)


def _members(ledger: pd.DataFrame) -> np.ndarray:
    """A number per savings member (organization, member_id), in order of first appearance."""
    org_codes, org_labels = pd.factorize(ledger["organization"], use_na_sentinel=False)
    id_codes, id_labels = pd.factorize(ledger["member_id"], use_na_sentinel=False)
    return pd.factorize(org_codes.astype(np.int64) * max(len(id_labels), 1) + id_codes)[0]


def _keys(frame: pd.DataFrame) -> np.ndarray:
    """The records' keys (0 for records never stored)."""
    return frame["record_key"].to_numpy(dtype=np.int64) if "record_key" in frame else np.zeros(len(frame), np.int64)


def prepare(tables: dict[str, pd.DataFrame]) -> Prepared:
    """Build the prepared frames from the store's (or a load's) clean tables.

    A participant is (organization, participant_id): a woman in two registers of one load (two
    programs' workbooks) is one woman, merged by the store's rule (earliest intake; other
    columns from her first registration), so she is counted once and her records find her."""
    p = merge_participants(tables["participants"]).reset_index(drop=True)
    participants = _frame({
        "organization": _category(p["organization"]),
        "participant_id": p["participant_id"].astype("str"),   # Arrow text: no Python string per row
        "program": _category(p["program"]),
        "site": _category(p["site"]),
        "province": province(p["site"]),
        "intake_date": pd.to_datetime(p["intake_date"]),
        "age_band": age_band(p["birth_year"], pd.to_datetime(p["intake_date"])),
        "work_setting": _category(p["work_setting"]),
        "referral_source": _category(p["referral_source"]),
        "at_risk": p["work_setting"].isin(AT_RISK_WORK_SETTINGS).to_numpy(dtype=bool),
        "record_key": _keys(p),
    })
    register = _Register.of(p)

    # The savings ledger first (5M rows at 1M participants), in a function of its own: its
    # temporaries come and go before the other prepared frames exist (~0.2 GiB off the peak).
    savings = _savings(tables["savings"], register)

    e = tables["enrollments"]
    # Cohorts as a category: few classes, and a selection's enrollment facts take codes, not text.
    enrollments = _frame({
        "pidx": register.pidx(e), "course": _category(e["course"]), "course_type": _category(e["course_type"]),
        "cohort": pd.Categorical(e["cohort"]), "start_date": pd.to_datetime(e["start_date"]),
        "end_date": pd.to_datetime(e["end_date"]), "status": e["status"].astype("category"),
        "scholarship": e["scholarship"].astype("boolean").fillna(False).to_numpy(dtype=bool),   # blank is no
        "record_key": _keys(e),
    })

    f = tables["followups"]
    status = pd.Categorical(f["employment_status"])   # compared per selection: keep codes
    pidx = register.pidx(f)
    dates = pd.to_datetime(f["followup_date"]).to_numpy()
    rows = np.flatnonzero((status != "unknown") & (pidx >= 0))
    rows = rows[np.lexsort((rows, dates[rows], pidx[rows]))]   # the spreadsheet row breaks ties
    followups = _frame({
        "pidx": pidx[rows], "followup_date": dates[rows],
        "employment_status": status.take(rows),
        "monthly_income": f["monthly_income"].to_numpy(dtype=float, na_value=np.nan)[rows],
    })

    s = tables["services"]
    services = _frame({
        "pidx": register.pidx(s), "service_date": pd.to_datetime(s["service_date"]),
        "service_type": s["service_type"].astype("category"), "status": s["status"].astype("category"),
        "amount": s["amount"].astype(float), "referred_by": _category(s["referred_by"]), "record_key": _keys(s),
    })

    a = tables["activities"]
    activities = _frame({
        "organization": _category(a["organization"]), "site": _category(a["site"]), "province": province(a["site"]),
        "activity_type": a["activity_type"].astype("category"), "audience": _category(a["audience"]),
        "activity_date": pd.to_datetime(a["activity_date"]),
        "reached": a["reached"].astype(float).fillna(0), "new_contacts": a["new_contacts"].astype(float).fillna(0),
        "record_key": _keys(a),
    })
    n = _table(tables, "network_members")
    network_members = _frame({
        "organization": _category(n["organization"]), "member_id": n["member_id"].astype("str"),
        "pidx": register.pidx(n, pid="member_id"), "network": _category(n["network"]),
        "group_id": n["group_id"].astype("str"), "site": _category(n["site"]), "province": province(n["site"]),
        "role": _category(n["role"]),
        "sector": _category(n["sector"]), "joined_date": pd.to_datetime(n["joined_date"]),
        "left_date": pd.to_datetime(n["left_date"]),
        "trained": n["trained"].astype("boolean").fillna(False).to_numpy(dtype=bool),   # blank is no
        "record_key": _keys(n),
    })
    # The same as a dimension, so the trained share is a breakdown the engine (and disclosure) takes.
    network_members["training"] = pd.Categorical(np.where(network_members["trained"], "trained", "not_trained"),
                                                 categories=TRAINING)

    c = _table(tables, "cases")
    cases = _frame({
        "organization": _category(c["organization"]), "site": _category(c["site"]), "province": province(c["site"]),
        "case_type": _category(c["case_type"]), "referred_by": _category(c["referred_by"]),
        "recruiter_relation": _category(c["recruiter_relation"]), "verdict": _category(c["verdict"]),
        **{d: pd.to_datetime(c[d]) for d in ("reported_date", "rescue_date", "charged_date", "verdict_date")},
        "survivors": c["survivors"].astype(float).fillna(1), "minors": c["minors"].astype(float).fillna(0),
        "perpetrators_convicted": c["perpetrators_convicted"].astype(float), "record_key": _keys(c),
    })
    prepared = Prepared(participants, enrollments, followups, services, savings, activities,
                        tables["targets"].reset_index(drop=True), network_members, cases)
    prepared.followup_history, prepared.course_history   # once per store version, not on a first selection
    return prepared


def _savings(v: pd.DataFrame, register: _Register) -> pd.DataFrame:
    """The ledger sorted by period, each row with its member (`midx`) and participant."""
    period = pd.to_datetime(v["period"])
    order = np.argsort(period.to_numpy(), kind="stable")   # by period (NaT last), ledger order within
    midx = _members(v)[order].astype(np.int32)            # 150,000 members at 1M participants
    # A member is counted as one unit: her key is her first ledger row's (reversed, the first
    # row's assignment is the last one). Rows keep only hers (keys are below 2**31): a ledger
    # row's own key counts nothing.
    first_key = np.zeros(midx.max() + 1 if len(midx) else 0, dtype=np.int32)
    first_key[midx[::-1]] = _keys(v)[order][::-1]
    net = v["deposit"].to_numpy(dtype=float, na_value=0.0) - v["withdrawal"].to_numpy(dtype=float, na_value=0.0)
    return _frame({
        "midx": midx, "pidx": register.pidx(v, pid="member_id")[order],
        "organization": _category(v["organization"]).array.take(order),
        "group_id": pd.Categorical(v["group_id"]).take(order),   # 8,000 groups over 5M rows
        "group_type": _category(v["group_type"]).array.take(order),
        "period": period.take(order).to_numpy(), "net": net[order], "member_key": first_key[midx],
    })


def _frame(columns: dict) -> pd.DataFrame:
    """A frame over the arrays as they are: not stacked into one 2-D block per dtype (a copy
    of every column, seconds and a second copy of the data at 1M participants)."""
    return pd.DataFrame(columns, copy=False)


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """A clean table, empty with its columns when the tables given lack it (tables of an
    earlier contract, a test's few tables)."""
    return tables[name] if name in tables else typed(pd.DataFrame(), name)
