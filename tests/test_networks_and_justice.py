"""Community networks and the justice pathway, from raw workbooks as field teams write them
(English and Khmer headers, titles, totals, Khmer labels and digits, typos, a name column),
checked against the programs' own figures in the contract: KWCD's 185 network members with
25 trained peer educators and 30 gatekeepers, 215 women in 17 awareness courses and 404
karaoke workers in 40, 59 health referrals, 20 apprentices of whom 2 set up a business;
CWCC's 8 CBPN groups with 160 members; more than 200 perpetrators convicted since 2003 and
two thirds of survivors recruited by someone they knew.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from impact import disclosure
from impact.access import protection
from impact.intake.parsing import load_files
from impact.metrics.activities import activity_summary
from impact.metrics.engine import Selection, compute
from impact.metrics.justice import case_pathway, time_to_verdict, verdict_life_table
from impact.metrics.survival import share_after
from impact.metrics.prepared import prepare
from impact.metrics.targets import target_progress
from impact.contract.tables import TABLES
from tests.frames import row
from tests.helpers import assert_accounted
from tests.workbooks import write_csv, write_xlsx

TO_DATE = dt.date(2025, 6, 30)
ALL_TIME = Selection(None, TO_DATE)
KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


def day(d: dt.date, khmer: bool = False) -> str:
    text = f"{d:%d/%m/%Y}"
    return text.translate(KHMER_DIGITS) if khmer else text


def kwcd_network(path) -> None:
    """KWCD's network workbook, Khmer headers: 185 members (25 trained peer educators, one of
    them a registered participant), 30 gatekeepers, 3 who left before 2025, a bad role."""
    header = ["ល.រ", "លេខសម្គាល់សមាជិក", "បណ្តាញ", "លេខសម្គាល់ក្រុម", "ទីតាំង", "តួនាទី", "វិស័យ",
              "ថ្ងៃចូលជាសមាជិក", "ថ្ងៃចាកចេញ", "បានទទួលការបណ្តុះបណ្តាល"]
    rows = []
    for i in range(185):
        peer = i < 25
        member_id = "KW-0001" if i == 0 else f"NM-{i:03d}"
        rows.append([i + 1, member_id, "KWCD women's network", f"G{i % 9 + 1}", "Phnom Penh",
                     "មិត្តអប់រំមិត្ត" if peer else ("សមាជិក" if i % 2 else "Member"), None,
                     day(dt.date(2023, 1, 1) + dt.timedelta(days=i), khmer=i % 7 == 0), None,
                     "បាទ" if peer else ("ទេ" if i % 3 else None)])
    for i in range(3):   # left in 2024: not members at mid-2025
        rows.append([200 + i, f"NM-L{i}", "KWCD women's network", "G1", "Phnom Penh", "Member", None,
                     "01/02/2023", "15/10/2024", "No"])
    sectors = ["នគរបាល", "local authority", "Employer", "អាជ្ញាធរមូលដ្ឋាន", "Police"]
    for i in range(30):
        rows.append([300 + i, f"GK-{i:02d}", "Gatekeepers", None, "Phnom Penh", "Gatekeeper", sectors[i % 5],
                     "05/03/2024", None, "Yes" if i < 20 else "No"])
    rows.append([400, "GK-99", "Gatekeepers", None, "Phnom Penh", "Village spy", "Police", "05/03/2024", None, "Yes"])
    members = [["KWCD – បណ្តាញសមាជិក (Network register)"], [], header, *rows, [], ["សរុប", 219]]

    register = [["Participant ID", "Program", "Site", "Intake Date", "Work Setting"]]
    register += [[f"KW-{i:04d}", "Night Outreach", "Phnom Penh", "10/01/2024", "Karaoke"] for i in range(1, 81)]
    services = [["Participant ID", "Service date", "Service type", "Status", "Referred by"]]
    referrers = ["Peer educator", "community network", "អ្នកពាក់ព័ន្ធ"]
    services += [[f"KW-{i:04d}", "15/05/2024", "Health", "Completed" if i <= 50 else "Pending", referrers[i % 3]]
                 for i in range(1, 60)]
    services += [[f"KW-{i:04d}", "20/05/2024", "Counselling", "Completed", "Self"] for i in range(60, 70)]
    services += [[f"KW-{i:04d}", "20/05/2024", "Legal", "Declined", "Hotline"] for i in range(70, 75)]
    enrollments = [["Participant ID", "Course", "Course type", "Start date", "End date", "Status"]]
    enrollments += [[f"KW-{i:04d}", "Hairdressing apprenticeship", "Apprenticeship", "01/02/2024", "31/07/2024",
                     "Graduated"] for i in range(1, 21)]
    followups = [["Participant ID", "Follow-up date", "Employment status"]]
    followups += [[f"KW-{i:04d}", "15/01/2025", "Own business" if i <= 2 else "Alternative employment"]
                  for i in range(1, 21)]
    activities = [["Activity date", "Site", "Activity type", "Audience", "Reached"]]
    women = [13] * 16 + [7]        # 215 women in prostitution in 17 courses
    karaoke = [10] * 36 + [11] * 4  # 404 karaoke workers in 40
    activities += [[f"{k % 28 + 1:02d}/03/2024", "Phnom Penh", "Awareness course", "women in prostitution", n]
                   for k, n in enumerate(women)]
    activities += [[f"{k % 28 + 1:02d}/04/2024", "Phnom Penh", "វគ្គលើកកម្ពស់ការយល់ដឹង", "karaoke workers", n]
                   for k, n in enumerate(karaoke)]
    activities += [["10/06/2024", "Phnom Penh", "Police training", "police", 25],
                   ["11/06/2024", "Phnom Penh", "Training of gatekeepers", "village chiefs", 30],
                   ["12/06/2024", "Phnom Penh", "Network training", "peer educators", 25]]
    write_xlsx(path, {"Network": members, "Register": register, "Referrals": services, "Courses": enrollments,
                      "Follow-ups": followups, "Awareness": activities})


def cwcc_cbpn(path) -> None:
    """CWCC's CBPN register, English headers with units and marks: 8 groups of 20 women in Pouk
    and Krolanh, a leader each; one duplicate-free register, one row per woman."""
    header = ["Member ID*", "Network", "Group", "Site", "Role", "Date joined (dd/mm/yyyy)", "Trained?"]
    rows = [[f"CB-{g}{k:02d}", "Community-Based Protection Network", f"CBPN-{g}",
             "Siem Reap - Pouk" if g <= 4 else "Siem Reap - Krolanh", "Group leader" if k == 0 else "member",
             dt.datetime(2024, g, 1), "✓" if k < 15 else None]
            for g in range(1, 9) for k in range(20)]
    write_xlsx(path, {"CBPN members": [["CWCC Community-Based Protection Networks"], [], header, *rows,
                                       ["Total", None, None, None, None, None, 120]]})


RELATIONS = ["relative"] * 20 + ["friend"] * 15 + ["partner"] * 10 + ["broker"] * 10 + ["employer"] * 5 \
    + ["Stranger"] * 30 + ["unknown"] * 10 + [None] * 10


NAMES = [f"{family} {given}" for family in ("Sok", "Chan", "Keo", "Lim", "Meas", "Heng", "Phan", "Prak", "Ros", "Sam",
                                          "Seng")
         for given in ("Dara", "Sophea", "Lina", "Malis", "Navy", "Sokha", "Thida", "Kanha", "Chenda", "Pisey")]


def ijm_cases(path) -> None:
    """IJM's case log since 2003, a CSV export: 110 cases. 70 convicted with 3 perpetrators each
    (210), 20 acquitted, 10 waiting for a verdict, 10 never charged; relations: 60 known people,
    30 strangers, 20 unknown. A survivor's name column, a duplicate case and a typo'd verdict."""
    header = ["Case No.*", "Site", "Type of case", "Date reported (dd/mm/yyyy)", "Referred by", "Survivors",
              "Minors", "Recruited by", "Date rescued", "Date charged", "Date of verdict", "Verdict",
              "Number convicted", "Survivor name"]
    rows = []
    for i in range(110):
        reported = dt.date(2003, 3, 1) + dt.timedelta(days=60 * i)
        outcome = "convicted" if i < 70 else "acquitted" if i < 90 else "pending" if i < 100 else None
        verdict_days = 400 if outcome == "convicted" else 600
        final = outcome in ("convicted", "acquitted")
        rows.append([f"C-{i:03d}", "Phnom Penh" if i % 2 else "Poipet", "Sex trafficking" if i % 4 else "CSE",
                     day(reported), "Police" if i % 3 else "Gatekeeper", None if i % 10 == 0 else 2, 1,
                     RELATIONS[i], day(reported + dt.timedelta(days=5)),
                     day(reported + dt.timedelta(days=30)) if outcome else None,
                     day(reported + dt.timedelta(days=verdict_days)) if final else None,
                     {"convicted": "Convicted" if i % 9 else "Convcted", "acquitted": "Acquitted",
                      "pending": "Pending"}.get(outcome), "3" if outcome == "convicted" else None,
                     NAMES[i]])
    rows.append(rows[5][:])   # the same case twice
    write_csv(path, [["IJM case log (export)"], header, *rows, ["Total", None, None, None, None, 210]])


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("networks")
    kwcd_network(folder / "KWCD_network.xlsx")
    cwcc_cbpn(folder / "CWCC_cbpn.xlsx")
    ijm_cases(folder / "IJM_cases.csv")
    return load_files(sorted(folder.iterdir()))


@pytest.fixture(scope="module")
def prepared(loaded):
    return prepare({t: loaded.table(t) for t in TABLES})


def metrics(prepared, selection=ALL_TIME, by=(), keys=None, cell_keys=False):
    return compute(prepared, selection, by=by, keys=keys, today=TO_DATE, cell_keys=cell_keys)


def test_every_row_is_loaded_or_reported_and_no_name_is_stored(loaded):
    assert_accounted(loaded)
    problems = {(i.file, i.value, i.problem.split(" (")[0]) for i in loaded.issues}
    assert ("KWCD_network.xlsx", "Village spy",
            "expected one of member, group_leader, peer_educator, gatekeeper") in problems
    assert any(i.file == "IJM_cases.csv" and i.value == "C-005" and "already registered" in i.problem
               for i in loaded.issues)
    assert [d.column for d in loaded.dropped_columns if d.file == "IJM_cases.csv"] == ["Survivor name"]
    cases = loaded.table("cases")
    assert len(cases) == 110 and not cases.isin(NAMES).any().any()
    assert set(cases.columns) - {"upload_id"} == set(TABLES["cases"].column_names) | {
        "organization", "source_sheet", "source_row"}
    assert (cases["verdict"] == "convicted").sum() == 70    # "Convcted" is convicted
    members = loaded.table("network_members")
    assert len(members) == 185 + 3 + 30 + 160
    assert set(members["sector"].dropna()) == {"police", "local_authority", "employer"}


def test_kwcd_185_members_25_peer_educators_30_gatekeepers(prepared):
    kwcd = Selection(None, TO_DATE, {"organization": ("KWCD",)})
    by_network = metrics(prepared, kwcd, by=("network",), keys=("network_members",))
    assert row(by_network, "network_members", network="KWCD women's network")["value"] == 185
    assert row(by_network, "network_members", network="Gatekeepers")["value"] == 30
    by_role = metrics(prepared, kwcd, by=("role", "training"), keys=("network_members",))
    assert row(by_role, "network_members", role="peer_educator", training="trained")["value"] == 25
    assert row(by_role, "network_members", role="gatekeeper", training="trained")["value"] == 20
    # The three who left in 2024 were members at the end of 2023.
    end_2023 = metrics(prepared, Selection(None, dt.date(2023, 12, 31), kwcd.filters), keys=("network_members",))
    assert row(end_2023, "network_members")["value"] == 185 + 3
    # A member who is a registered participant is linked to her; the others need not be.
    linked = prepared.network_members[prepared.network_members["pidx"] >= 0]
    assert linked["member_id"].tolist() == ["KW-0001"]


def test_cwcc_8_groups_and_160_members(prepared):
    cwcc = Selection(None, TO_DATE, {"organization": ("CWCC",)})
    total = metrics(prepared, cwcc, keys=("network_groups", "network_members"))
    assert row(total, "network_groups")["value"] == 8
    assert row(total, "network_members")["value"] == 160
    by_site = metrics(prepared, cwcc, by=("site",), keys=("network_groups",))
    assert by_site.set_index("site")["value"].to_dict() == {"Siem Reap - Krolanh": 4, "Siem Reap - Pouk": 4}
    by_role = metrics(prepared, cwcc, by=("role",), keys=("network_members",))
    assert row(by_role, "network_members", role="group_leader")["value"] == 8
    # Groups grow over the year: 4 of them at the end of April 2024.
    by_month = metrics(prepared, Selection(dt.date(2024, 1, 1), dt.date(2024, 12, 31), cwcc.filters),
                       by=("month",), keys=("network_groups",))
    assert by_month["value"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8]


def test_59_health_referrals_by_the_networks_and_what_came_of_them(prepared):
    kwcd = Selection(None, TO_DATE, {"organization": ("KWCD",)})
    by_type = metrics(prepared, kwcd, by=("service_type",), keys=("network_referrals",))
    assert row(by_type, "network_referrals", service_type="health")["value"] == 59
    assert row(by_type, "network_referrals", service_type="counselling")["value"] == 0
    completion = metrics(prepared, kwcd, by=("referred_by",), keys=("referral_completion_rate",))
    peers = row(completion, "referral_completion_rate", referred_by="peer_educator")
    assert (peers["numerator"], peers["denominator"]) == (16, 16)   # 3 pending ones wait
    assert row(completion, "referral_completion_rate", referred_by="hotline")["value"] == 0


def test_awareness_courses_and_who_attended(prepared):
    kwcd = {"organization": ("KWCD",), "activity_type": ("awareness_course",)}
    by_audience = activity_summary(prepared, Selection(None, TO_DATE, kwcd), by="audience", today=TO_DATE)
    got = by_audience.set_index("audience")[["activities", "people_reached"]].to_dict("index")
    assert got == {"karaoke workers": {"activities": 40, "people_reached": 404},
                   "women in prostitution": {"activities": 17, "people_reached": 215}}
    trained = metrics(prepared, Selection(None, TO_DATE, {"organization": ("KWCD",)}), by=("activity_type",),
                      keys=("people_reached",))
    assert row(trained, "people_reached", activity_type="police_training")["value"] == 25


def test_20_apprentices_and_2_businesses(loaded, prepared):
    apprentices = loaded.table("enrollments").query("course_type == 'apprenticeship'")
    assert apprentices["participant_id"].nunique() == 20
    assert row(metrics(prepared, Selection(None, TO_DATE, {"organization": ("KWCD",)}),
                       keys=("business_starts",)), "business_starts")["value"] == 2


def test_more_than_200_convicted_since_2003_and_two_thirds_recruited_by_someone_known(prepared):
    ijm = Selection(dt.date(2003, 1, 1), TO_DATE, {"organization": ("IJM",)})
    got = metrics(prepared, ijm).set_index("metric")
    assert got.at["perpetrators_convicted", "value"] == 210 > 200
    assert got.at["cases_reported", "value"] == 110
    assert (got.at["known_recruiter_rate", "numerator"], got.at["known_recruiter_rate", "denominator"]) == (60, 90)
    assert got.at["known_recruiter_rate", "value"] == pytest.approx(2 / 3)
    assert (got.at["charge_rate", "numerator"], got.at["charge_rate", "denominator"]) == (100, 110)
    assert got.at["survivors_rescued", "value"] == 99 * 2 + 11   # a blank is one survivor
    assert (got.at["days_to_verdict", "value"], got.at["days_to_verdict", "denominator"]) == (400, 90)
    by_type = metrics(prepared, ijm, by=("case_type",), keys=("cases_reported",))
    assert by_type.set_index("case_type")["value"].to_dict() == {"child_sexual_exploitation": 28,
                                                                 "sex_trafficking": 82}
    by_year = metrics(prepared, ijm, by=("year",), keys=("perpetrators_convicted",))
    assert by_year["value"].sum() == 210 and len(by_year) == 23


def test_case_pathway_and_time_to_verdict(prepared):
    ijm = Selection(dt.date(2003, 1, 1), TO_DATE, {"organization": ("IJM",)})
    steps = case_pathway(prepared, ijm, today=TO_DATE).set_index("step")
    assert steps.at["reported", "value"] == 110
    assert steps["numerator"].drop("reported").to_dict() == {"rescued": 110, "charged": 100, "verdict": 90,
                                                             "convicted": 70}
    curve, summary = time_to_verdict(prepared, ijm, today=TO_DATE)
    assert (summary["n"], summary["verdicts"], summary["censored"], summary["median_days"]) == (110, 90, 20, 400)
    table = verdict_life_table(prepared, ijm, today=TO_DATE)
    assert table["numerator"].sum() == 90 and table["denominator"].iloc[0] == 110
    assert share_after(table)[-1] == pytest.approx(curve["share_waiting"].iloc[-1], abs=0.1)
    left_out = case_pathway(prepared, replace(ijm, filters={"program": ("Night Outreach",)}), today=TO_DATE)
    assert left_out["value"].isna().all() and left_out["note"].str.startswith("cannot be filtered").all()


def test_a_donor_never_sees_a_small_case_on_its_own(prepared):
    """One Poipet case with one survivor rescued in its quarter: a donor's survivors by site show
    "fewer than 10" for it, and the pathway of one case shows no step."""
    quarter = Selection(dt.date(2003, 1, 1), dt.date(2003, 3, 31), {"organization": ("IJM",)})
    exact = metrics(prepared, quarter, by=("site",), keys=("survivors_rescued",))
    assert exact["value"].tolist() == [1]
    shown = protection.protected(lambda by: metrics(prepared, quarter, by=by, keys=("survivors_rescued",), cell_keys=True),
                                 ("site",))
    assert shown["suppressed"].all() and set(shown["display"]) == {"fewer than 10"}
    pathway = protection.protected_rows(case_pathway(prepared, quarter, today=TO_DATE), "step")
    assert pathway["suppressed"].all()
    big = protection.protected_rows(case_pathway(prepared, Selection(dt.date(2003, 1, 1), TO_DATE,
                                                                     {"organization": ("IJM",)}),
                                                 today=TO_DATE), "step").set_index("step")
    assert big.at["reported", "display"] == "110" and big.at["convicted", "numerator"] == 70
    assert big.at["rescued", "suppressed"]   # all 110 rescued: "all but 0" is a small difference
    assert disclosure.settings()["threshold"] == 10


def test_days_to_verdict_for_a_donor_is_withheld_with_few_verdicts(prepared):
    few = Selection(dt.date(2003, 1, 1), dt.date(2005, 6, 30), {"organization": ("IJM",)})
    exact = metrics(prepared, few, keys=("days_to_verdict",))
    assert 0 < row(exact, "days_to_verdict")["denominator"] < 10
    shown = protection.protected(lambda by: metrics(prepared, few, by=by, keys=("days_to_verdict",), cell_keys=True))
    assert shown["suppressed"].all() and np.isnan(shown["value"]).all()
    many = protection.protected(lambda by: metrics(prepared, ALL_TIME, by=by, keys=("days_to_verdict",), cell_keys=True))
    assert many["value"].tolist() == [400] and many["denominator"].tolist() == [90]
    assert not pd.isna(many["display"]).any()


def test_targets_may_name_the_new_metrics(loaded, prepared):
    """Targets read from a workbook: a count (members), a rate (cases charged, written 80%) and a
    median that should be low (days to verdict: 365 promised, 400 found is behind)."""
    targets = pd.DataFrame({
        "organization": ["KWCD", "IJM", "IJM"], "indicator": ["network_members", "charge_rate", "days_to_verdict"],
        "program": None, "site": None, "period_start": pd.to_datetime(["2025-01-01", "2003-01-01", "2003-01-01"]),
        "period_end": pd.to_datetime(["2025-12-31", "2024-12-31", "2024-12-31"]), "target": [200.0, 80.0, 365.0]})
    got = target_progress(prepared, targets, today=TO_DATE).set_index("indicator")
    assert got.at["network_members", "actual"] == 215 and got.at["network_members", "status"] == "achieved"
    assert got.at["charge_rate", "target"] == 0.8 and got.at["charge_rate", "status"] == "achieved"
    assert got.at["days_to_verdict", "actual"] == 400 and got.at["days_to_verdict", "status"] == "behind"
    assert got.at["days_to_verdict", "expected"] == 365   # a median does not accumulate
