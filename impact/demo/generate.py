"""Demo field workbooks for three fictional organizations, messy the way real ones are.

Why: the dashboard must be alive on first start. A director who opens it before any field
team has uploaded a file should see real-looking figures, breakdowns, targets and an issue
report, not an empty page; and the loader needs a realistic, reproducible workload for its
tests. The files are generated (from a seed, with fixed dates from 2023-01-01 to
2025-09-30, never today's date) into a folder such as data/demo/ and are never committed.
Every organization, person, name and phone number in them is invented.

The organizations (ORGS) and the layout of their files are data: each sheet is one table
of `impact.contract.tables` rendered with a header style (English, Khmer, bilingual, with units and
footnote marks) and a date, label and boolean style. The messiness follows the samples:
title and blank rows above the header, Total/សរុប rows and notes below the data, Khmer
headers and labels, dd/mm/yyyy text and Excel serial dates, Khmer digits, thousands
separators, $ and ៛ marks, typos within two letters, an Instructions sheet, a hidden pivot
sheet, name and phone columns (KWCD register only: the loader must drop them), merged
savings-group cells, and about 1% deliberately bad rows (BAD) for the issue report.
"""
from __future__ import annotations

import csv
import os
import random
from collections import Counter
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from impact.contract.aliases import read_aliases
from impact.contract.tables import (
    AMOUNT,
    AT_RISK_WORK_SETTINGS,
    BOOLEAN,
    CATEGORY,
    DATE,
    INTEGER,
    TABLES,
)

START, END = date(2023, 1, 1), date(2025, 9, 30)
# Stamped on every demo workbook as its creation time instead of the time of writing, so the
# same demo is the same bytes (a store that has it sees it as unchanged).
WRITTEN_AT = datetime(2023, 1, 1)
KHR_PER_USD = 4000

# The fictional organizations: sizes, sites, programs and the weights of their categories.
ORGS: dict[str, dict] = {
    "KWCD": dict(
        prefix="KW", n=(500, 650), exit_p=0.30, life_skills="Empowerment Training", p_life=0.6,
        sites={"Phnom Penh": 6, "Siem Reap - Pouk": 4}, programs={"Night Outreach": 6, "Empowerment Training": 4},
        referral={"night_outreach": 6, "peer_educator": 2, "hotline": 1, "self": 1, "other": 0.3},
        work={"karaoke": 7, "massage": 1, "beer_garden": 1, "other_entertainment": .4, "returning_migrant": .3,
              "none": .7},
        savings=("karaoke workers", 124, 0.919),   # group type, members, share who saved (spec: 114 of 124)
        activities=[("night_outreach_visit", 4, ("karaoke workers",), (8, 40), (0, 4), None),
                    ("awareness_course", 1, ("karaoke workers", "massage workers"), (12, 35), (0, 3), (1, 3))],
        services={"counselling": 5, "health": 4, "legal": 1, "shelter": 1, "job_placement": 2,
                  "financial_support": 2, "scholarship": 1, "business_loan": 0.5}),
    "SRP": dict(
        prefix="SR", n=(350, 450), exit_p=0.25, life_skills="Life Skills for Women", p_life=0.5,
        sites={"Sihanoukville": 6, "Battambang": 4},
        programs={"Peer Education": 5, "Radio Call-in": 3, "Services & Referrals": 2},
        referral={"peer_educator": 5, "radio_callin": 3, "hotline": 2, "self": 1, "other": 0.5},
        work={"brothel": 4, "massage": 2, "beer_garden": 2, "karaoke": 1, "other_entertainment": 1, "none": 0.5},
        savings=("women in prostitution", 61, 0.656),   # spec: 40 of 61
        activities=[("radio_callin", 2, ("general public",), (100, 600), (0, 6), (1, 1)),
                    ("night_outreach_visit", 3, ("women in prostitution", "beer garden workers"), (5, 30), (0, 4),
                     None),
                    ("hotline_report", 1, ("hotline callers",), (1, 6), (0, 2), None)],
        services={"counselling": 4, "health": 4, "legal": 2, "business_loan": 3, "job_placement": 1,
                  "financial_support": 1, "shelter": 0.5}),
    "CPN": dict(
        prefix="CP", n=(300, 400), exit_p=0.30, life_skills="Life Skills", p_life=0.55,
        sites={"Kampong Cham": 4, "Prey Veng": 3, "Svay Rieng": 3},
        programs={"Community Protection Network": 7, "Safe Migration": 3},
        referral={"community_network": 6, "self": 2, "hotline": 1, "other": 1},
        work={"returning_migrant": 4, "none": 3, "beer_garden": 1.5, "karaoke": 1.5, "other_entertainment": 1,
              "massage": 0.5},
        savings=("community network", 90, 0.80),
        activities=[("network_meeting", 2, ("village chiefs", "community network members"), (8, 30), (0, 2), None),
                    ("awareness_course", 3, ("villagers", "youth", "returning migrants"), (20, 120), (0, 5), (1, 2)),
                    ("training_of_gatekeepers", 0.5, ("police", "commune councils"), (10, 40), (0, 1), (1, 3))],
        services={"counselling": 3, "health": 3, "legal": 2, "job_placement": 3, "financial_support": 2,
                  "business_loan": 1, "scholarship": 1}),
}
# Their files: file name -> sheets, each a table (or instructions / pivot) and how it is written.
# header: en | en_units | km | bi; labels: en | km | mixed; dates: see DATE_MIX; bools: see BOOL_FORMS.
FILES: dict[str, dict[str, list]] = {
    "KWCD": {
        "KWCD_register_2023-2025.xlsx": [
            ("instructions", {}),
            ("participants", dict(sheet="អ្នកចូលរួម", header="km", labels="km", dates="text", pii=True, numbering=True,
                                  title="KWCD – បញ្ជីអ្នកចូលរួម (Participant register)", total="សរុប",
                                  note="Confidential: names and phone numbers – do not share.")),
            ("enrollments", dict(sheet="Enrollments", header="en_units", labels="en", dates="mixed", bools="mixed",
                                 total="Total", note="* required")),
            ("followups", dict(sheet="Follow-ups", header="en", labels="mixed", dates="mixed")),
            ("services", dict(sheet="Services", header="bi", labels="mixed", dates="text")),
            ("targets", dict(sheet="Targets", header="en", dates="real")),
            ("pivot", dict(sheet="Pivot", by="program"))],
        "KWCD_savings_groups.xlsx": [
            ("savings", dict(sheet="ក្រុមសន្សំ", header="km", dates="text", merge=True, total="សរុប",
                             title="ក្រុមសន្សំ KWCD (karaoke workers)", note="Deposits in riel unless marked $"))],
        "KWCD_outreach_log.csv": [
            ("activities", dict(header="en_units", labels="en", dates="text", total="Total",
                                title="KWCD night outreach log (export)", note="Exported from the outreach app"))]},
    "SRP": {
        "SRP_monitoring_2023-2025.xlsx": [
            ("participants", dict(sheet="Participants", header="en_units", labels="en", dates="mixed")),
            ("enrollments", dict(sheet="Courses", header="en", labels="en", dates="text", bools="yn")),
            ("services", dict(sheet="Referrals", header="en_units", labels="mixed", dates="mixed")),
            ("targets", dict(sheet="Targets", header="en_units", dates="text"))],
        "SRP_followups_savings.xlsx": [
            ("followups", dict(sheet="ការតាមដាន", header="km", labels="km", dates="text", title="SRP follow-ups")),
            ("savings", dict(sheet="Savings", header="en", dates="mixed", merge=True, total="Total")),
            ("activities", dict(sheet="Outreach", header="en", labels="mixed", dates="mixed"))]},
    "CPN": {
        "CPN_network_data_2025.xlsx": [
            ("instructions", {}),
            ("participants", dict(sheet="បញ្ជីអ្នកចូលរួម", header="bi", labels="km", dates="serial", omit=(),
                                  title="Community Protection Network (CPN)")),
            ("enrollments", dict(sheet="វគ្គសិក្សា", header="bi", labels="mixed", dates="serial", bools="tick")),
            ("followups", dict(sheet="ការតាមដាន", header="bi", labels="mixed", dates="mixed", total="សរុប")),
            ("savings", dict(sheet="ការសន្សំប្រាក់", header="bi", dates="month", merge=True, title="ក្រុមសន្សំសហគមន៍")),
            ("activities", dict(sheet="សកម្មភាព", header="km", labels="km", dates="text", total="សរុប")),
            ("services", dict(sheet="សេវា", header="bi", labels="km", dates="text")),
            ("targets", dict(sheet="គោលដៅ", header="km", dates="text")),
            ("pivot", dict(sheet="Summary", by="site"))]},
}

# Their networks and justice work, drawn with a random generator of their own (so the files
# above stay the same): network (name, members active at the end, roles that are not plain
# members, groups, sectors, share of plain members trained, share who are registered
# participants); referrals the networks made (how many, of them health); trainings (activity
# type, per quarter, audience, reached); cases (how many, or 0). KWCD's figures are the
# program's own: 185 members with 25 trained peer educators, 30 gatekeepers, 59 health referrals.
NETWORKS: dict[str, dict] = {
    "KWCD": dict(
        networks=[("KWCD women's network", 185, {"peer_educator": 25}, 0, None, 0.3, 0.4),
                  ("Gatekeepers", 30, {"gatekeeper": 30}, 0, {"police": 3, "local_authority": 2, "employer": 2},
                   0.7, 0)],
        referrals=(110, 59), referrers={"peer_educator": 5, "community_network": 3, "gatekeeper": 1},
        trainings=[("network_training", 1, "peer educators", (10, 25)),
                   ("training_of_gatekeepers", 0.5, "karaoke owners", (8, 20))],
        cases=0),
    "SRP": dict(
        networks=[("Peer educators", 40, {"peer_educator": 40}, 0, None, 1.0, 0.6)],
        referrals=(50, 20), referrers={"peer_educator": 1},
        trainings=[("network_training", 1, "peer educators", (8, 20))],
        cases=0),
    "CPN": dict(
        networks=[("Community-Based Protection Network", 160, {"group_leader": 8}, 8, None, 0.6, 0.3),
                  ("Gatekeepers", 45, {"gatekeeper": 45}, 0, {"police": 3, "local_authority": 3, "health": 1},
                   0.8, 0)],
        referrals=(140, 45), referrers={"community_network": 5, "gatekeeper": 2},
        trainings=[("network_training", 1.5, "community network members", (15, 40)),
                   ("police_training", 0.7, "police", (15, 40))],
        cases=150),
}
NETWORK_FILES: dict[str, dict[str, list]] = {
    "KWCD": {
        "KWCD_networks_2023-2025.xlsx": [
            ("network_members", dict(sheet="សមាជិកបណ្តាញ", header="km", labels="km", dates="text", numbering=True,
                                     title="KWCD – សមាជិកបណ្តាញ (Network members)", total="សរុប")),
            ("services", dict(sheet="Network referrals", header="bi", labels="mixed", dates="text")),
            ("activities", dict(sheet="Trainings", header="en", labels="en", dates="mixed")),
            ("targets", dict(sheet="Targets", header="en", dates="real"))]},
    "SRP": {
        "SRP_peer_educators.xlsx": [
            ("network_members", dict(sheet="Peer educators", header="en_units", labels="en", dates="mixed")),
            ("services", dict(sheet="Referrals by peers", header="en", labels="en", dates="text")),
            ("activities", dict(sheet="Trainings", header="en", labels="en", dates="text"))]},
    "CPN": {
        "CPN_cbpn_and_justice_2023-2025.xlsx": [
            ("network_members", dict(sheet="CBPN", header="bi", labels="km", dates="serial", bools="tick",
                                     title="Community-Based Protection Network (CBPN) members")),
            ("cases", dict(sheet="ករណី", header="bi", labels="mixed", dates="mixed", total="សរុប",
                           title="CPN – ករណីផ្លូវច្បាប់ (justice cases)", note="Case codes only: no names.")),
            ("services", dict(sheet="សេវា", header="km", labels="km", dates="text")),
            ("activities", dict(sheet="Trainings", header="bi", labels="mixed", dates="text")),
            ("targets", dict(sheet="គោលដៅ", header="km", dates="text"))]},
}
CASE_TYPES_SEEN = {"sex_trafficking": 5, "labour_trafficking": 3, "violence_against_women": 3,
                   "child_sexual_exploitation": 1, "other": 0.5}
CASE_REFERRERS = {"community_network": 4, "gatekeeper": 2, "police": 2, "hotline": 1, "self": 1, "other": 0.3}
# Two thirds of survivors recruited by someone they knew (of the relations known).
RELATIONS = {"relative": 4, "friend": 4, "partner": 2, "broker": 3, "employer": 1, "other": 0.5, "stranger": 7,
             "unknown": 2}
EXITS = {"alternative_employment": 5, "own_business": 2, "studying": 1, "not_working": 2}
FURTHER = {("Sewing", "vocational"): 4, ("Beauty", "vocational"): 3, ("Cooking", "vocational"): 2,
           ("Computer", "vocational"): 1, ("Hotel apprenticeship", "apprenticeship"): 1,
           ("University", "higher_education"): 0.5}
PROVIDERS = {"counselling": ("{org} counsellor", "Provincial counselling centre"),
             "health": ("Health centre", "Referral hospital", "Reproductive health clinic"),
             "legal": ("Legal aid partner", "Commune police"), "shelter": ("Partner shelter",),
             "business_loan": ("{org} loan fund",), "job_placement": ("Garment factory", "Hotel partner"),
             "financial_support": ("{org}",), "scholarship": ("{org}",)}
AMOUNTS = {"business_loan": (100, 600), "financial_support": (20, 150), "scholarship": (50, 300)}
RATE_TARGETS = {"graduation_rate": 80, "vocational_progression": 25, "job_exit_rate": 60,
                "followup_coverage": 75, "sustained_exit_6m": 50, "savings_rate": 85,
                "referral_completion_rate": 85}
# Bad rows, about 1% of each data sheet: (what is wrong, column). Each is an extra row.
BAD = {"participants": [("missing", "participant_id"), ("date", "intake_date"), ("category", "work_setting")],
       "network_members": [("category", "role"), ("date", "joined_date"), ("missing", "member_id")],
       "cases": [("category", "case_type"), ("date", "reported_date"), ("missing", "case_id")],
       "enrollments": [("unregistered", "participant_id"), ("date", "start_date"), ("category", "status")],
       "followups": [("unregistered", "participant_id"), ("date", "followup_date"),
                     ("category", "employment_status")],
       "services": [("unregistered", "participant_id"), ("category", "service_type"), ("missing", "participant_id")],
       "savings": [("negative", "deposit"), ("missing", "member_id"), ("date", "period")],
       "activities": [("date", "activity_date"), ("category", "activity_type")]}
UNKNOWN = {"work_setting": "Garment factory", "status": "Suspended", "employment_status": "Moved away",
           "service_type": "Transport", "activity_type": "Football match", "role": "Volunteer",
           "case_type": "Land dispute"}
TOTALLED = ("reached", "deposit", "amount", "monthly_income", "survivors")   # the column a Total row sums
IMPOSSIBLE_DATES = ("30/02/2024", "31/04/2025", "29/02/2023", "31/06/2024")
TYPOS = {"graduated": "Graduted", "dropped_out": "Droped out", "counselling": "Counseling",
         "karaoke": "Karoke", "massage": "Masage", "completed": "Completd", "night_outreach": "Night outrech",
         "alternative_employment": "Alternative employmnt", "entertainment_work": "Entertainment wrk",
         "awareness_course": "Awarness course", "night_outreach_visit": "Night outreach vist"}
DATE_MIX = {"text": {"text": 90, "khmer": 4, "real": 6}, "mixed": {"real": 45, "text": 35, "iso": 10, "serial": 10},
            "serial": {"serial": 75, "real": 20, "text": 5}, "month": {"month": 75, "text": 25}, "real": {"real": 1}}
LABEL_MIX = {"km": {"km": 70, "human": 15, "lower": 8, "pad": 4, "typo": 1.5, "upper": 1.5},
             "en": {"human": 50, "lower": 15, "canon": 10, "title": 10, "upper": 5, "pad": 6, "typo": 2, "km": 2},
             "mixed": {"km": 35, "human": 30, "lower": 10, "canon": 10, "upper": 5, "pad": 8, "typo": 2}}
BOOL_FORMS = {"yn": [("Yes", "No"), ("Y", "N"), ("yes", "no")], "tick": [("✓", None)],
              "mixed": [("Yes", "No"), ("TRUE", "FALSE"), (1, 0), ("Y", "N"), ("បាទ", "ទេ"), ("ចាស", "ទេ")]}
FAMILY = "Sok Chan Keo Lim Meas Heng Phan Prak Ros Sam Seng Touch Un Vong Yim Chea Kim Mao Nhem Ouk".split()
GIVEN = ("Sreyleak Channary Sophea Dara Lina Malis Navy Raksmey Sokha Thida Kanha Chenda Pisey "
         "Sreypov Mealea Davy Kunthea Vanna Sothea Rachana").split()
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()   # not the locale's
_KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


class Raw(str):
    """A cell written exactly as given (a deliberately bad value)."""


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), list(weights.values()))[0]


@lru_cache(maxsize=None)
def khmer_label(kind: str, name: str, scopes: frozenset = frozenset()) -> str | None:
    """The preferred (first) Khmer alias of a table, column or value in one of `scopes`."""
    return next((a.alias for a in read_aliases() if a.kind == kind and a.name == name
                 and any("\u1780" <= ch <= "\u17ff" for ch in a.alias)
                 and (a.scope == "*" or not scopes or scopes & set(a.scope.split()))), None)


def _months(first: date, last: date, day: int = 5):
    y, m = first.year, first.month
    while date(y, m, day) <= last:
        yield date(y, m, day)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _course(rng, pid, course, ctype, start, months, p_grad):
    end = start + timedelta(days=30 * months)
    row = dict(participant_id=pid, course=course, course_type=ctype, start_date=start,
               cohort=f"{''.join(w[0] for w in course.split()).upper()}-{start:%Y-%m}",
               scholarship=(rng.random() < .85) if ctype != "life_skills" else (False if rng.random() < .3 else None))
    if end > END:
        return dict(row, status="enrolled", end_date=None)
    if rng.random() < p_grad:
        return dict(row, status="graduated", end_date=end)
    return dict(row, status="dropped_out", end_date=start + timedelta(days=rng.randint(10, 30 * months - 5)))


def _simulate(code: str, cfg: dict, rng: random.Random) -> dict[str, list[dict]]:
    """Canonical rows (python values, contract categories) for one organization."""
    n = rng.randint(*cfg["n"])
    intakes = sorted(START + timedelta(days=rng.randrange((END - START).days - 30)) for _ in range(n))
    P = [dict(participant_id=f"{cfg['prefix']}-{i:04d}", organization=code, program=_pick(rng, cfg["programs"]),
              site=_pick(rng, cfg["sites"]), intake_date=d,
              birth_year=d.year - int(rng.triangular(15, 40, 21)) if rng.random() > .08 else None,
              referral_source=_pick(rng, cfg["referral"]) if rng.random() > .05 else None,
              work_setting=_pick(rng, cfg["work"]) if rng.random() > .04 else None)
         for i, d in enumerate(intakes, 1)]
    E, F, S, V, A = [], [], [], [], []
    for p in P:
        pid, intake = p["participant_id"], p["intake_date"]
        if rng.random() < cfg["p_life"]:
            start = (intake.replace(day=1) + timedelta(days=40)).replace(day=1)
            e = _course(rng, pid, cfg["life_skills"], "life_skills", start, 3, 0.8)
            E.append(e)
            nxt = e["end_date"] and e["end_date"] + timedelta(days=rng.randint(10, 80))
            if e["status"] == "graduated" and rng.random() < .25 and nxt <= END:
                course, ctype = _pick(rng, FURTHER)
                E.append(_course(rng, pid, course, ctype, nxt, 6 if ctype != "higher_education" else 12, .85))
        at_risk = p["work_setting"] in AT_RISK_WORK_SETTINGS
        if at_risk or rng.random() < .4:
            state = "entertainment_work" if at_risk else _pick(rng, EXITS)
            d = intake + timedelta(days=rng.randint(30, 120))
            while d <= END:
                if state == "entertainment_work" and rng.random() < cfg["exit_p"]:
                    state = _pick(rng, EXITS)
                elif at_risk and state != "entertainment_work" and rng.random() < .08:
                    state = "entertainment_work"
                status = "unknown" if rng.random() < .07 else state
                usd = {"entertainment_work": (150, 400), "alternative_employment": (100, 250),
                       "own_business": (50, 300)}.get(status)
                cur = "KHR" if rng.random() < .3 else "USD"
                income = None if not usd or rng.random() < .25 else rng.randrange(*usd, 5)
                if income and cur == "KHR":
                    income = round(income * KHR_PER_USD, -4)
                F.append(dict(participant_id=pid, followup_date=d, employment_status=status,
                              monthly_income=income, currency=cur if income else None))
                d += timedelta(days=rng.randint(60, 180))
        for _ in range(rng.choices(range(5), (3, 4, 3, 2, 1))[0]):
            d = intake + timedelta(days=rng.randint(0, 500))
            if d > END:
                continue
            t = _pick(rng, cfg["services"])
            cur = "KHR" if rng.random() < .2 else "USD"
            amount = rng.randrange(*AMOUNTS[t], 5) if t in AMOUNTS else None
            S.append(dict(participant_id=pid, service_date=d, service_type=t, currency=cur if amount else None,
                          provider=rng.choice(PROVIDERS[t]).format(org=code) if rng.random() > .1 else None,
                          status=_pick(rng, {"completed": 80, "declined": 10, "pending": 10}),
                          amount=amount * KHR_PER_USD if amount and cur == "KHR" else amount))
    S.sort(key=lambda r: r["service_date"])
    F.sort(key=lambda r: r["followup_date"])
    gtype, n_members, rate = cfg["savings"]
    pool = [p for p in P if p["intake_date"] < END - timedelta(days=90)
            and (p["work_setting"] in AT_RISK_WORK_SETTINGS or gtype == "community network")]
    members = sorted(rng.sample(pool, n_members), key=lambda p: (p["site"], p["intake_date"]))
    savers = {p["participant_id"] for p in rng.sample(members, round(rate * n_members))}
    groups, k = [], 0
    while k < len(members):
        size = rng.randint(10, 18)
        groups.append(members[k:k + size])
        k += size
    for g, group in enumerate(groups, 1):
        rows = []
        for p in group:
            cur = "USD" if rng.random() < .3 else "KHR"
            amounts = (0, 1, 2, 3, 5, 10) if cur == "USD" else (0, 5000, 10000, 20000, 40000)
            saver, balance = p["participant_id"] in savers, 0
            months = list(_months(p["intake_date"] + timedelta(days=20), END))[:rng.randint(6, 24)]
            for i, period in enumerate(months):
                deposit = rng.choice(amounts[1:] if saver and i == 0 else amounts)
                withdrawal = None
                if saver and balance > 0 and rng.random() < .06:
                    withdrawal = balance // 2
                if not saver:   # saved nothing, or took everything out at the last meeting
                    deposit = deposit if rng.random() < .4 else 0
                    withdrawal = balance + deposit if i == len(months) - 1 and balance + deposit else None
                balance += deposit - (withdrawal or 0)
                rows.append(dict(group_id=f"{cfg['prefix']}-SG{g:02d}", group_type=gtype, member_id=p["participant_id"],
                                 period=period, deposit=deposit, withdrawal=withdrawal, currency=cur))
        V += sorted(rows, key=lambda r: (r["period"], r["member_id"]))
    for m in _months(START, END, 1):
        for site in cfg["sites"]:
            for atype, per_month, audiences, reached, new, sessions in cfg["activities"]:
                for _ in range(max(0, round(rng.gauss(per_month, max(per_month, .25) ** .5)))):
                    A.append(dict(activity_date=m.replace(day=rng.randint(1, 28)), site=site, activity_type=atype,
                                  audience=rng.choice(audiences), sessions=sessions and rng.randint(*sessions),
                                  reached=rng.randint(*reached) if rng.random() > .03 else None,
                                  new_contacts=rng.randint(*new)))
    A.sort(key=lambda r: r["activity_date"])
    return dict(participants=P, enrollments=E, followups=F, savings=V, activities=A, services=S,
                targets=_targets(rng, P, A, cfg))


def _simulate_networks(code: str, cfg: dict, P: list[dict], rng: random.Random) -> dict[str, list[dict]]:
    """Canonical rows of an organization's networks (members, their referrals, trainings,
    targets) and cases, from its participants `P`."""
    sites = list(ORGS[code]["sites"])
    registered = [p for p in P if p["intake_date"] < END - timedelta(days=60)]
    N, S, A, C = [], [], [], []
    for name, active, roles, n_groups, sectors, trained_p, registered_p in cfg["networks"]:
        short = "".join(w[0] for w in name.split() if w[0].isupper())
        ids = iter(rng.sample(registered, round(active * registered_p)))
        plain = active - sum(roles.values())
        people = [role for role, n in roles.items() for _ in range(n)] + ["member"] * plain
        leavers = ["member" if plain else people[0]] * max(2, active // 20)   # left before the end
        for k, role in enumerate(people + leavers):
            joined = START + timedelta(days=rng.randrange((END - START).days - 90))
            member = next(ids, None) if role in ("member", "peer_educator", "group_leader") else None
            group = k % n_groups if n_groups else None
            if role == "group_leader":
                group = k
            N.append(dict(member_id=member["participant_id"] if member else f"{ORGS[code]['prefix']}-{short}{k:03d}",
                          network=name, group_id=f"{short}-{group + 1:02d}" if group is not None else None,
                          site=sites[group % len(sites)] if group is not None else (member or {}).get(
                              "site", rng.choice(sites)),
                          role=role, sector=_pick(rng, sectors) if sectors else None, joined_date=joined,
                          left_date=joined + timedelta(days=rng.randint(30, (END - joined).days - 1))
                          if k >= len(people) else None,
                          trained=role in ("peer_educator", "group_leader") or rng.random() < trained_p))
    total, health = cfg["referrals"]
    for k in range(total):
        p = rng.choice(registered)
        d = p["intake_date"] + timedelta(days=rng.randint(0, 300))
        t = "health" if k < health else _pick(rng, {"counselling": 4, "legal": 2, "shelter": 1, "job_placement": 1})
        S.append(dict(participant_id=p["participant_id"], service_date=min(d, END), service_type=t,
                      provider=rng.choice(PROVIDERS[t]).format(org=code),
                      status=_pick(rng, {"completed": 80, "declined": 8, "pending": 12}),
                      referred_by=_pick(rng, cfg["referrers"])))
    for m in _months(START, END, 1):
        for atype, per_month, audience, reached in cfg["trainings"]:
            for _ in range(sum(rng.random() < per_month / 3 for _ in range(3))):
                A.append(dict(activity_date=m.replace(day=rng.randint(1, 28)), site=rng.choice(sites),
                              activity_type=atype, audience=audience, sessions=rng.randint(1, 3),
                              reached=rng.randint(*reached), new_contacts=0))
    for k in range(cfg["cases"]):
        reported = START + timedelta(days=rng.randrange((END - START).days))
        rescued = reported + timedelta(days=rng.randint(0, 20)) if rng.random() < .8 else None
        charged = reported + timedelta(days=rng.randint(20, 200)) if rng.random() < .75 else None
        verdict_date = charged + timedelta(days=rng.randint(90, 420)) if charged and rng.random() < .85 else None
        verdict = _pick(rng, {"convicted": 16, "acquitted": 2, "dismissed": 1}) if verdict_date else \
            ("pending" if charged and rng.random() < .5 else None)
        survivors = rng.choice((1, 1, 1, 2, 2, 3, 4))
        C.append(dict(case_id=f"{ORGS[code]['prefix']}-C{k + 1:04d}", site=rng.choice(sites),
                      case_type=_pick(rng, CASE_TYPES_SEEN), reported_date=reported,
                      referred_by=_pick(rng, CASE_REFERRERS), survivors=survivors if rng.random() > .05 else None,
                      minors=rng.randint(0, survivors) if rng.random() < .3 else 0,
                      recruiter_relation=_pick(rng, RELATIONS) if rng.random() > .1 else None,
                      rescue_date=rescued if rescued and rescued <= END else None,
                      charged_date=charged if charged and charged <= END else None,
                      verdict_date=verdict_date if verdict_date and verdict_date <= END else None,
                      verdict=verdict if not verdict_date or verdict_date <= END else "pending",
                      perpetrators_convicted=rng.choice((1, 1, 2, 3)) if verdict == "convicted" else None))
    C.sort(key=lambda r: r["reported_date"])
    span = dict(period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), program=None, site=None)
    targets = [dict(span, indicator="network_members", target=sum(n[1] for n in cfg["networks"])),
               dict(span, indicator="network_referrals", target=round(total / 2.5, -1))]
    if cfg["cases"]:
        targets += [dict(span, indicator="cases_reported", target=60), dict(span, indicator="charge_rate", target="60%"),
                    dict(span, indicator="perpetrators_convicted", target=40),
                    dict(span, indicator="days_to_verdict", target=365)]
    return dict(network_members=N, services=S, activities=sorted(A, key=lambda r: r["activity_date"]), cases=C,
                targets=targets)


def _targets(rng, P, A, cfg) -> list[dict]:
    in_2024 = lambda d: d.year == 2024  # noqa: E731
    counts = {"participants_registered": sum(in_2024(p["intake_date"]) for p in P),
              "people_reached": sum(a["reached"] or 0 for a in A if in_2024(a["activity_date"])),
              "new_contacts": sum(a["new_contacts"] for a in A if in_2024(a["activity_date"]))}
    rows = []
    for year in (2024, 2025):
        span = dict(period_start=date(year, 1, 1), period_end=date(year, 12, 31), program=None, site=None)
        for key, v in counts.items():
            t = int(round(v * rng.uniform(.9, 1.2), -1))
            rows.append(dict(span, indicator=key, target=rng.choice([t, f"{t:,}"])))
        rows += [dict(span, indicator=key, target=rng.choice([v, f"{v}%", str(v)])) for key, v in RATE_TARGETS.items()]
        rows += [dict(span, indicator="participants_registered", site=site,
                      target=int(round(counts["participants_registered"] * w / sum(cfg["sites"].values()), -1)))
                 for site, w in cfg["sites"].items()]
    return rows


def _with_bad_rows(table: str, rows: list[dict], cfg: dict, rng: random.Random) -> list[dict]:
    """The rows plus about 1% bad copies (see BAD), each right after the row it copies."""
    kinds, extra = BAD.get(table, []), {}
    for k in range(max(1, round(len(rows) / 100)) if kinds and rows else 0):
        kind, col = kinds[k % len(kinds)]
        at = rng.randrange(len(rows))
        bad = dict(rows[at])
        if table == "participants":   # a fresh id, so no other row depends on the bad one
            bad["participant_id"] = f"{cfg['prefix']}-8{k:03d}"
        if kind == "negative":
            bad[col] = -(bad[col] or 5) * rng.randint(1, 4)
        else:
            bad[col] = {"missing": None, "date": Raw(rng.choice(IMPOSSIBLE_DATES)), "category": Raw(UNKNOWN.get(col, "")),
                        "unregistered": f"{cfg['prefix']}-9{rng.randint(100, 999)}"}[kind]
        extra.setdefault(at, []).append(bad)
    return [r for i, row in enumerate(rows) for r in (row, *extra.get(i, ()))]


def _header(table: str, col, style: str) -> str:
    english = col.name.replace("_", " ").title().replace(" Id", " ID")
    khmer = khmer_label("column", col.name, frozenset({table})) or english
    units = english + (" (dd/mm/yyyy)" if col.kind == DATE else "") + ("*" if col.required else "")
    return {"km": khmer, "bi": f"{khmer} ({english})", "en_units": units}.get(style, english)


def _render(rng: random.Random, style: dict, table: str, col, value, row: dict):
    """One cell, written the way a field team might have typed it."""
    if value is None or isinstance(value, Raw):
        return value
    r = rng.random()
    if col.kind == DATE:
        form = _pick(rng, DATE_MIX[style.get("dates", "mixed")])
        return {"real": value, "text": f"{value:%d/%m/%Y}", "iso": value.isoformat(),
                "serial": (value - date(1899, 12, 30)).days, "month": f"{MONTHS[value.month - 1]} {value.year}",
                "khmer": f"{value:%d/%m/%Y}".translate(_KHMER_DIGITS)}[form]
    if col.name == "currency":
        return khmer_label("currency", value) if r < .07 else value.lower() if r < .1 else value
    if col.kind == CATEGORY:
        human = value.replace("_", " ").capitalize()
        km = khmer_label("value", value, frozenset({col.name, f"{table}.{col.name}"})) or human
        form = _pick(rng, LABEL_MIX[style.get("labels", "mixed")])
        return {"km": km, "human": human, "canon": value, "upper": human.upper(), "lower": human.lower(),
                "pad": f" {human} ", "title": human.title(), "typo": TYPOS.get(value, human)}[form]
    if col.kind == BOOLEAN:
        yes, no = rng.choice(BOOL_FORMS[style.get("bools", "mixed")])
        return yes if value else no
    if col.kind == INTEGER:
        if r < .04:
            return str(value).translate(_KHMER_DIGITS)
        return f"{value:,}" if col.non_negative and value >= 1000 and r < .5 else str(value) if r < .15 else value
    if col.kind == AMOUNT:
        khr = row.get("currency") == "KHR"
        text = f"{value:,.0f}" if khr or value == int(value) else f"{value:,.2f}"
        if r < .3:
            return value
        if r < .85:
            return text if r < .55 else (f"{text}៛" if r < .6 else f"៛{text}") if khr else f"${text}"
        return text.translate(_KHMER_DIGITS)
    if col.name in ("participant_id", "member_id") and r < .02:
        return f" {value} "   # stray spaces around an id
    return value


def _phone(rng: random.Random) -> str:
    prefix = rng.choice((12, 15, 16, 17, 70, 77, 88, 89, 92, 96, 97))
    return f"0{prefix} {rng.randint(100, 999)} {rng.randint(100, 9999)}"   # invented numbers


def _build_sheet(code: str, cfg: dict, table: str, style: dict, data: dict, rng: random.Random,
                 sheet_names: list[str]) -> dict:
    """A sheet as a grid of cells (rows of values), with its merges and visibility."""
    if table == "instructions":
        lines = [f"{code} – field data (fictional demo data)", "",
                 "One row per record. Dates dd/mm/yyyy. Amounts in USD unless marked ៛.",
                 "មួយជួរសម្រាប់កំណត់ត្រាមួយ។ កាលបរិច្ឆេទ ថ្ងៃ/ខែ/ឆ្នាំ។ ទឹកប្រាក់ជាដុល្លារ លើកលែងតែមានសញ្ញា ៛។",
                 "Sheets: " + ", ".join(sheet_names), "Do not write names or phone numbers in the data sheets."]
        return dict(name="Instructions", grid=[[line] for line in lines], merges=[], hidden=False)
    if table == "pivot":
        by = style["by"]
        counts = Counter(p[by] for p in data["participants"])
        grid = [[f"{code} – participants by {by}"], [], ["Row Labels", "Count of Participant ID"],
                *[[k, v] for k, v in sorted(counts.items())], ["Grand Total", sum(counts.values())]]
        return dict(name=style["sheet"], grid=grid, merges=[], hidden=True)
    cols = [c for c in TABLES[table].columns if c.name not in style.get("omit", ("organization",))]
    rows = _with_bad_rows(table, data[table], cfg, rng)
    names = [c.name for c in cols]
    header = [_header(table, c, style.get("header", "en")) for c in cols]
    body = [[_render(rng, style, table, c, row.get(c.name), row) for c in cols] for row in rows]
    if style.get("pii"):   # direct identifiers: the loader must leave these out
        i = names.index("participant_id") + 1
        names[i:i], header[i:i] = ["_name", "_phone"], ["ឈ្មោះ", "លេខទូរស័ព្ទ"]
        for line in body:
            line[i:i] = [f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}", _phone(rng)]
    if style.get("numbering"):
        names.insert(0, "_no")
        header.insert(0, "ល.រ")
        for k, line in enumerate(body, 1):
            line.insert(0, k)
    top = [[style["title"]], [], []] if style.get("title") else []
    first = len(top) + 2   # Excel row of the first data row
    merges = [(1, 1, 1, len(header))] if top else []
    if style.get("merge"):   # one merged cell per group for its id and type
        for name in ("group_id", "group_type"):
            j, s = names.index(name), 0
            for e in range(1, len(body) + 1):
                if e == len(body) or rows[e]["group_id"] != rows[s]["group_id"]:
                    for line in body[s + 1:e]:
                        line[j] = None
                    if e - s > 1:
                        merges.append((first + s, j + 1, first + e - 1, j + 1))
                    s = e
    trailer = []
    if style.get("total"):
        total = [style["total"]] + [None] * (len(header) - 1)
        j = next((names.index(n) for n in TOTALLED if n in names), None)
        total[j or 1] = sum(r.get(names[j]) or 0 for r in rows if not isinstance(r.get(names[j]), Raw)) \
            if j else len(rows)
        trailer = [[], total] + ([[style["note"]]] if style.get("note") else [])
    return dict(name=style.get("sheet", table), grid=top + [header] + body + trailer, merges=merges, hidden=False)


def _write_xlsx(path: Path, sheets: list[dict]) -> None:
    """Each value as the cell type a spreadsheet program gives it (dates as dates, shown
    dd/mm/yyyy); the same sheets give the same bytes (xlsxwriter stamps no time of writing
    when given the creation time)."""
    import xlsxwriter
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    wb.set_properties({"created": WRITTEN_AT})
    day = wb.add_format({"num_format": "DD/MM/YYYY"})
    for sh in sheets:
        ws = wb.add_worksheet(sh["name"])
        for r1, c1, r2, c2 in sh["merges"]:   # its first cell's value is written below
            ws.merge_range(r1 - 1, c1 - 1, r2 - 1, c2 - 1, None)
        for i, line in enumerate(sh["grid"]):
            for j, value in enumerate(line):
                if isinstance(value, date):
                    ws.write_datetime(i, j, value, day)
                elif isinstance(value, (int, float)):
                    ws.write_number(i, j, value)
                elif value is not None:
                    ws.write_string(i, j, value)
        if sh["hidden"]:
            ws.hide()
    wb.close()


def _write_csv(path: Path, sheets: list[dict]) -> None:
    (sheet,) = sheets
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([f"{v:%d/%m/%Y}" if isinstance(v, date) else v for v in line]
                                for line in sheet["grid"])


WRITERS = {".xlsx": _write_xlsx, ".csv": _write_csv}


def _write_workbook(path: Path, sheets: list[dict]) -> None:
    """Write next to `path` and move it there, so a server reading the demo (two may start
    together) never sees half a file; the same demo gives the same bytes."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    WRITERS[path.suffix](partial, sheets)
    os.replace(partial, path)


def years_to_recent(today: date) -> int:
    """Whole years to move the demo forward so it ends in the last 14 months: a newcomer's
    'this year' view then shows a living program, with months and weekdays kept as written."""
    return max(0, today.year - END.year - (today < date(today.year, END.month + 1, 1)))


def _later(value: object, years: int) -> object:
    if not isinstance(value, date) or not years:
        return value
    try:
        return value.replace(year=value.year + years)
    except ValueError:          # 29 February
        return value.replace(year=value.year + years, day=28)


def write_demo_workbooks(folder: Path, seed: int = 7, years_later: int = 0) -> list[Path]:
    """Write the demo workbooks of KWCD, SRP and CPN into `folder`; the same seed gives the
    same cell values. Returns the paths written, in ORGS / file order. `years_later` moves
    every date forward by whole years (see `years_to_recent`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng, paths = random.Random(seed), []
    for code, cfg in ORGS.items():
        simulated = _simulate(code, cfg, rng)
        networks_rng = random.Random(f"{seed}/{code}/networks")   # the files above stay as they were
        networks = _simulate_networks(code, NETWORKS[code], simulated["participants"], networks_rng)
        for files, tables, file_rng in ((FILES, simulated, rng), (NETWORK_FILES, networks, networks_rng)):
            data = {table: [{k: _later(v, years_later) for k, v in row.items()} for row in rows]
                    for table, rows in tables.items()}
            for file_name, sheets in files[code].items():
                path = folder / file_name
                names = [s.get("sheet", t) for t, s in sheets if t in TABLES]
                _write_workbook(path, [_build_sheet(code, cfg, t, s, data, file_rng, names) for t, s in sheets])
                paths.append(path)
    return paths
