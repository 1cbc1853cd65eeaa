"""Every metric of the field-data contract, declared once as data.

A metric is a fact (the units it counts, see `impact.metrics.facts`), a numerator and a denominator
written as expressions over that fact, a kind, and the words a director and a donor read.
Adding a ratio metric is one more entry here; the engine in `impact.metrics.engine` computes any of
them for any selection and breakdown.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import StrEnum

from impact.metrics.facts import FACTS


class Kind(StrEnum):
    """What a metric's value is: how it is summed, protected, shown and compared to a target."""
    COUNT = "count"     # a sum; no denominator
    RATE = "rate"       # numerator / denominator, with a Wilson interval
    AMOUNT = "amount"   # money per unit: numerator (USD) / denominator (a count of units)
    MEDIAN = "median"   # the median of the numerator (days) over the units the denominator counts


class Timing(StrEnum):
    FLOW = "flow"       # what happened in the period
    STOCK = "stock"     # as at the period's end


ROWS = "rows"   # a numerator or denominator that counts the fact's rows


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    label_km: str
    question: str          # the plain question a chart of it answers
    question_km: str
    description: str       # the exact definition, in plain words
    kind: Kind
    timing: Timing
    fact: str
    numerator: str         # expression over the fact, summed (booleans count)
    denominator: str | None = None
    unit: str = "people"
    higher_is_better: bool = True


CATALOG: tuple[Metric, ...] = (
    Metric("participants_registered", "Women registered", "អ្នកចូលរួមដែលបានចុះឈ្មោះ",
           "How many women did the programs register?", "តើកម្មវិធីបានចុះឈ្មោះស្ត្រីប៉ុន្មាននាក់?",
           "Distinct participants whose intake date is in the period.",
           Kind.COUNT, Timing.FLOW, "registrations", ROWS),
    Metric("graduation_rate", "Graduation rate", "អត្រាបញ្ចប់ការសិក្សា",
           "How many who finished a course graduated?", "តើអ្នកដែលបានបញ្ចប់វគ្គ មានប៉ុន្មាននាក់ដែលបានបញ្ចប់ការសិក្សាដោយជោគជ័យ?",
           "Enrollments that ended in the period as graduated, out of those that ended graduated or "
           "dropped out. Running enrollments are in no denominator.",
           Kind.RATE, Timing.FLOW, "enrollment_ends", "status == 'graduated'", "status in ['graduated', 'dropped_out']",
           unit="enrollments"),
    Metric("enrollments_started", "Course enrollments started", "ការចុះឈ្មោះចូលវគ្គដែលបានចាប់ផ្តើម",
           "How many course enrollments started?", "តើមានការចុះឈ្មោះចូលវគ្គប៉ុន្មានដែលបានចាប់ផ្តើម?",
           "Enrollments whose start date is in the period (a woman in two courses counts twice).",
           Kind.COUNT, Timing.FLOW, "enrollment_starts", ROWS, unit="enrollments"),
    Metric("vocational_progression", "Progression to vocational training", "ការបន្តទៅវគ្គវិជ្ជាជីវៈ",
           "How many life-skills graduates went on to vocational training?", "តើអ្នកបញ្ចប់វគ្គជំនាញជីវិតប៉ុន្មាននាក់ បានបន្តទៅវគ្គវិជ្ជាជីវៈ?",
           "Participants who graduated a life-skills course ending in the period; of them, those who "
           "started a vocational, apprenticeship or higher-education course after that graduation and "
           "by the period's end.",
           Kind.RATE, Timing.FLOW, "life_skills_graduates", "progressed", ROWS),
    Metric("job_exit_rate", "Left entertainment work", "អត្រាចាកចេញពីការងារកម្សាន្ត",
           "How many women left nighttime work?", "តើស្ត្រីប៉ុន្មាននាក់បានចាកចេញពីការងារពេលយប់?",
           "At-risk participants (karaoke, brothel, massage, beer garden or other entertainment work at "
           "intake) registered by the period's end with a known follow-up by then: those whose latest "
           "known status is not entertainment work. Read it with follow-up coverage.",
           Kind.RATE, Timing.STOCK, "participant_status", "at_risk & known & out_of_entertainment", "at_risk & known"),
    Metric("followup_coverage", "Follow-up coverage", "អត្រាគ្របដណ្តប់នៃការតាមដាន",
           "How many at-risk women do we have news of?", "តើយើងមានព័ត៌មានអំពីស្ត្រីដែលប្រឈមនឹងហានិភ័យប៉ុន្មាននាក់?",
           "At-risk participants registered by the period's end with a known follow-up (status not "
           "unknown) dated by then, out of all at-risk participants registered by then.",
           Kind.RATE, Timing.STOCK, "participant_status", "at_risk & known", "at_risk"),
    Metric("at_risk_followed", "At-risk women with news", "ស្ត្រីប្រឈមហានិភ័យដែលមានព័ត៌មាន",
           "How many at-risk women do we have news of?", "តើយើងមានព័ត៌មានអំពីស្ត្រីប្រឈមហានិភ័យប៉ុន្មាននាក់?",
           "At-risk participants registered by the period's end with a known follow-up dated by then "
           "(the job-exit rate's denominator); by latest known status, where the women are now.",
           Kind.COUNT, Timing.STOCK, "participant_status", "at_risk & known"),
    Metric("sustained_exit_6m", "Exit sustained 6 months", "ការចាកចេញដែលរក្សាបាន ៦ ខែ",
           "Did women who left stay out six months later?", "តើស្ត្រីដែលបានចាកចេញ នៅតែនៅក្រៅការងារនោះ ៦ ខែក្រោយដែរឬទេ?",
           "At-risk participants with a known follow-up at least 180 days after their first exit "
           "(first known follow-up out of entertainment work): those whose known follow-ups from that "
           "180th day on are all out of entertainment work.",
           Kind.RATE, Timing.STOCK, "participant_status", "sustained", "exit_followed_180d"),
    Metric("cohort_exit_share", "Out of entertainment work at the milestone", "នៅក្រៅការងារកម្សាន្តនៅដំណាក់កាល",
           "Of the women found at 3, 6 and 12 months, how many were out of entertainment work?",
           "ក្នុងចំណោមស្ត្រីដែលបានរកឃើញនៅ ៣ ៦ និង ១២ ខែ តើប៉ុន្មាននាក់នៅក្រៅការងារកម្សាន្ត?",
           "At-risk participants registered in the period, at 3, 6 and 12 months after intake once that "
           "date has passed by the period's end: those whose known follow-up closest to it (within 45 "
           "days) is out of entertainment work, out of those with such a follow-up.",
           Kind.RATE, Timing.FLOW, "cohort_milestones", "outcome == 'out'", "outcome in ['out', 'in']"),
    Metric("cohort_lost_to_followup", "Lost to follow-up", "បាត់ការតាមដាន",
           "How many women due for a follow-up were not found?", "តើស្ត្រីប៉ុន្មាននាក់ដែលដល់ពេលតាមដាន មិនត្រូវបានរកឃើញ?",
           "At-risk participants registered in the period whose 3, 6 or 12-month follow-up window (45 days "
           "either side) closed by the period's end and by the date her organization's follow-ups reach, "
           "with no known follow-up in it; out of all whose milestone is due (found or lost).",
           Kind.RATE, Timing.FLOW, "cohort_milestones", "outcome == 'lost'", "outcome != 'not_due'",
           higher_is_better=False),
    Metric("cohort_not_yet_due", "Follow-up not yet due", "មិនទាន់ដល់ពេលតាមដាន",
           "How many women's follow-up is not due yet?", "តើការតាមដានស្ត្រីប៉ុន្មាននាក់មិនទាន់ដល់ពេល?",
           "At-risk participants registered in the period whose 3, 6 or 12-month milestone is after the "
           "period's end, or whose window is still open given how far the data reaches: not lost, not due.",
           Kind.COUNT, Timing.FLOW, "cohort_milestones", "outcome == 'not_due'"),
    Metric("business_starts", "Own businesses", "ការចាប់ផ្តើមអាជីវកម្ម",
           "How many women run their own business?", "តើស្ត្រីប៉ុន្មាននាក់មានអាជីវកម្មផ្ទាល់ខ្លួន?",
           "Participants registered by the period's end whose latest known status is own business.",
           Kind.COUNT, Timing.STOCK, "participant_status", "own_business"),
    Metric("savings_rate", "Savings rate", "អត្រាសន្សំប្រាក់",
           "How many savings-group members have savings?", "តើសមាជិកក្រុមសន្សំប៉ុន្មាននាក់មានប្រាក់សន្សំ?",
           "Savings-group members with ledger rows by the period's end: those whose deposits minus "
           "withdrawals from the ledger's start are above zero.",
           Kind.RATE, Timing.STOCK, "savers", "net > 0", ROWS, unit="members"),
    Metric("savings_per_member", "Savings per member", "ប្រាក់សន្សំក្នុងមួយសមាជិក",
           "How much has each member saved?", "តើសមាជិកម្នាក់ៗបានសន្សំប្រាក់ប៉ុន្មាន?",
           "Total net savings (deposits minus withdrawals, riel converted to dollars) of the members "
           "with ledger rows by the period's end, divided by the number of those members.",
           Kind.AMOUNT, Timing.STOCK, "savers", "net", ROWS, unit="USD"),
    Metric("referral_completion_rate", "Referrals completed", "អត្រាបញ្ចប់ការបញ្ជូនសេវា",
           "How many referrals were completed?", "តើការបញ្ជូនសេវាប៉ុន្មានត្រូវបានបញ្ចប់?",
           "Services dated in the period with status completed, out of those completed or declined "
           "(pending ones are in no denominator).",
           Kind.RATE, Timing.FLOW, "services", "status == 'completed'", "status in ['completed', 'declined']",
           unit="referrals"),
    Metric("people_reached", "People reached", "ចំនួនអ្នកបានជួប",
           "How many people did outreach and awareness reach?", "តើការចុះជួប និងការលើកកម្ពស់ការយល់ដឹងបានជួបមនុស្សប៉ុន្មាននាក់?",
           "Sum of people reached over activities dated in the period (blank counts as 0).",
           Kind.COUNT, Timing.FLOW, "activities", "reached"),
    Metric("new_contacts", "New contacts", "ទំនាក់ទំនងថ្មី",
           "How many women were newly connected to the programs?", "តើស្ត្រីប៉ុន្មាននាក់ទើបតែភ្ជាប់ទំនាក់ទំនងជាមួយកម្មវិធី?",
           "Sum of new contacts over activities dated in the period (blank counts as 0).",
           Kind.COUNT, Timing.FLOW, "activities", "new_contacts"),
    Metric("network_members", "Network members", "សមាជិកបណ្តាញ",
           "How many people are active in the networks?", "តើមានមនុស្សប៉ុន្មាននាក់សកម្មក្នុងបណ្តាញ?",
           "Members of community, peer-educator and gatekeeper networks who joined by the period's end "
           "and had not left before it, each counted once per network (by role: members, group leaders, "
           "peer educators, gatekeepers).",
           Kind.COUNT, Timing.STOCK, "network_members", ROWS),
    Metric("network_groups", "Network groups", "ក្រុមបណ្តាញ",
           "How many network groups are active?", "តើមានក្រុមបណ្តាញប៉ុន្មានកំពុងសកម្ម?",
           "Distinct network groups (organization, network, group) with at least one member active at the "
           "period's end.",
           Kind.COUNT, Timing.STOCK, "network_groups", ROWS, unit="groups"),
    Metric("network_referrals", "Referrals by the networks", "ការបញ្ជូនដោយបណ្តាញ",
           "How many women did the networks refer to services?", "តើបណ្តាញបានបញ្ជូនស្ត្រីប៉ុន្មាននាក់ទៅសេវា?",
           "Services dated in the period that a community network, a peer educator or a gatekeeper referred "
           "(referred_by).",
           Kind.COUNT, Timing.FLOW, "services",
           "referred_by in ['community_network', 'peer_educator', 'gatekeeper']", unit="referrals"),
    Metric("cases_reported", "Cases reported", "ករណីដែលបានរាយការណ៍",
           "How many cases were reported?", "តើមានករណីប៉ុន្មានត្រូវបានរាយការណ៍?",
           "Cases of trafficking, exploitation or violence first reported to the program or the police in "
           "the period.",
           Kind.COUNT, Timing.FLOW, "cases_reported", ROWS, unit="cases"),
    Metric("survivors_rescued", "Survivors rescued", "ជនរងគ្រោះដែលបានជួយសង្គ្រោះ",
           "How many survivors were brought to safety?", "តើជនរងគ្រោះប៉ុន្មាននាក់ត្រូវបាននាំទៅកន្លែងសុវត្ថិភាព?",
           "Survivors of the cases whose rescue is dated in the period (a case without a number counts one).",
           Kind.COUNT, Timing.FLOW, "rescues", "survivors"),
    Metric("charge_rate", "Cases charged", "ករណីដែលបានចោទប្រកាន់",
           "How many reported cases led to a charge?", "តើករណីដែលបានរាយការណ៍ប៉ុន្មាន បាននាំទៅដល់ការចោទប្រកាន់?",
           "Cases reported in the period in which a suspect was charged by the period's end, out of the "
           "cases reported in the period.",
           Kind.RATE, Timing.FLOW, "cases_reported", "charged", ROWS, unit="cases"),
    Metric("perpetrators_convicted", "Perpetrators convicted", "ជនល្មើសដែលត្រូវផ្តន្ទាទោស",
           "How many traffickers and abusers were convicted?", "តើជនជួញដូរ និងជនល្មើសប៉ុន្មាននាក់ត្រូវបានផ្តន្ទាទោស?",
           "People convicted in the cases with a conviction dated in the period (a conviction that does not "
           "say how many counts one).",
           Kind.COUNT, Timing.FLOW, "verdicts", "convictions"),
    Metric("known_recruiter_rate", "Recruited by someone known", "ត្រូវបានជ្រើសរើសដោយអ្នកស្គាល់គ្នា",
           "How many survivors were recruited by someone they knew?",
           "តើជនរងគ្រោះប៉ុន្មាននាក់ត្រូវបានជ្រើសរើសដោយអ្នកដែលពួកគេស្គាល់?",
           "Cases reported in the period whose recruiter was a relative, friend, partner, employer, broker "
           "or other known person, out of those whose recruiter's relation is known (stranger included).",
           Kind.RATE, Timing.FLOW, "cases_reported", "recruiter_known", "relation_known", unit="cases"),
    Metric("days_to_verdict", "Days from report to verdict", "ចំនួនថ្ងៃពីការរាយការណ៍ដល់សាលក្រម",
           "How long does justice take?", "តើយុត្តិធម៌ត្រូវការពេលប៉ុន្មាន?",
           "Median days from a case's report to its verdict (convicted, acquitted or dismissed), over the "
           "verdicts dated in the period. The time-to-verdict curve also counts the cases still waiting.",
           Kind.MEDIAN, Timing.FLOW, "verdicts", "days", ROWS, unit="days", higher_is_better=False),
)

METRICS: dict[str, Metric] = {m.key: m for m in CATALOG}


@dataclass(frozen=True)
class Issue:
    """One problem of a catalog entry: which metric, and what is wrong, in one plain line."""
    metric: str
    message: str

    def __str__(self) -> str:
        return f"{self.metric}: {self.message}"


# The syntax a numerator, denominator or filter may use: column names, literals, comparisons
# (==, !=, <, >, in, not in) and boolean logic (& | ~, and or not). DataFrame.eval reads more;
# a catalog needs no more.
_ALLOWED_NODES = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Compare,
                  ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.BoolOp, ast.And,
                  ast.Or, ast.BinOp, ast.BitAnd, ast.BitOr, ast.UnaryOp, ast.Invert, ast.Not, ast.USub)


def expression_issues(expression: str, columns: tuple[str, ...],
                      categories: dict[str, tuple[str, ...]]) -> list[str]:
    """Every problem of one expression over a fact: unreadable syntax, a name that is not a
    declared column, a text compared to a category column that is none of its values."""
    if expression == ROWS:
        return []
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return [f"cannot read {expression!r}"]
    problems = [f"{expression!r} uses {type(node).__name__}, which a metric expression may not"
                for node in ast.walk(tree) if not isinstance(node, _ALLOWED_NODES)]
    problems += [f"{expression!r} names {node.id!r}, not a column of the fact ({', '.join(columns)})"
                 for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id not in columns]
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id in categories:
            allowed = categories[node.left.id]
            literals = [c for side in node.comparators for c in ast.walk(side) if isinstance(c, ast.Constant)]
            problems += [f"{expression!r}: {c.value!r} is not a value of {node.left.id} ({', '.join(allowed)})"
                         for c in literals if isinstance(c.value, str) and c.value not in allowed]
    return problems


def validate_catalog(catalog: tuple[Metric, ...] = CATALOG) -> list[Issue]:
    """Every problem of a catalog, not only the first: duplicate keys, unknown facts, kinds or
    timings, missing words, a count with a denominator or a ratio without one, and numerators
    and denominators that do not read as expressions over their fact's declared columns."""
    keys = [m.key for m in catalog]
    issues = [Issue(k, "the key is used more than once") for k in sorted({k for k in keys if keys.count(k) > 1})]
    for m in catalog:
        def problem(message: str, key: str = m.key) -> None:
            issues.append(Issue(key, message))
        if m.kind not in list(Kind):
            problem(f"unknown kind {m.kind!r}; kinds: {', '.join(Kind)}")
        if m.timing not in list(Timing):
            problem(f"unknown timing {m.timing!r}; timings: {', '.join(Timing)}")
        missing = [name for name in ("label", "label_km", "question", "question_km", "description")
                   if not getattr(m, name)]
        if missing:
            problem(f"{', '.join(missing)} missing")
        if m.kind == Kind.COUNT and m.denominator is not None:
            problem("a count has no denominator")
        if m.kind != Kind.COUNT and m.denominator is None:
            problem(f"a {m.kind} needs a denominator")
        if m.fact not in FACTS:
            problem(f"unknown fact {m.fact!r}; facts: {', '.join(FACTS)}")
            continue
        fact = FACTS[m.fact]
        for expression in (m.numerator, m.denominator):
            for message in expression_issues(expression, fact.columns, fact.categories) if expression else ():
                problem(message)
    return issues


def metric(key: str) -> Metric:
    if key not in METRICS:
        raise KeyError(f"unknown metric {key!r}; known: {', '.join(METRICS)}")
    return METRICS[key]


_ISSUES = validate_catalog()
if _ISSUES:   # a broken catalog must stop at import, not show a wrong number on a page
    raise ValueError("metric catalog: " + "; ".join(map(str, _ISSUES)))
