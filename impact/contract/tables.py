"""The tables of the field-data contract, declared as data.

Every loader, validator, template and store table is derived from these declarations,
so a new column or category is one line here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

# Column kinds the cleaner knows how to parse.
TEXT, DATE, INTEGER, NUMBER, AMOUNT, CATEGORY, BOOLEAN = (
    "text", "date", "integer", "number", "amount", "category", "boolean")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    categories: tuple[str, ...] = ()
    description: str = ""
    # Checks beyond the type, by name: see impact.intake.validation.
    non_negative: bool = False
    # Text naming one person or record (nearly one value per row): kept as text when typed,
    # where other text (names of sites, programs, groups: few values over many rows) is a category.
    identifier: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    # Column pairs (start, end) where end may not come before start.
    date_order: tuple[tuple[str, str], ...] = ()
    # Tables whose participant_id must name a registered participant.
    references_participants: bool = False
    # The column whose values are unique within an organization (a second row is reported).
    unique_id: str | None = None

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


REFERRAL_SOURCES = ("night_outreach", "radio_callin", "hotline", "peer_educator",
                    "community_network", "self", "other")
WORK_SETTINGS = ("karaoke", "brothel", "massage", "beer_garden", "other_entertainment",
                 "returning_migrant", "none")
AT_RISK_WORK_SETTINGS = ("karaoke", "brothel", "massage", "beer_garden", "other_entertainment")
COURSE_TYPES = ("life_skills", "vocational", "apprenticeship", "higher_education")
ENROLLMENT_STATUSES = ("enrolled", "graduated", "dropped_out")
EMPLOYMENT_STATUSES = ("entertainment_work", "alternative_employment", "own_business",
                       "studying", "not_working", "unknown")
ACTIVITY_TYPES = ("night_outreach_visit", "radio_callin", "awareness_course", "hotline_report",
                  "network_meeting", "training_of_gatekeepers", "police_training", "network_training")
SERVICE_TYPES = ("counselling", "legal", "shelter", "health", "business_loan", "job_placement",
                 "financial_support", "scholarship")
SERVICE_STATUSES = ("completed", "pending", "declined")
CURRENCIES = ("USD", "KHR")
NETWORK_ROLES = ("member", "group_leader", "peer_educator", "gatekeeper")
SECTORS = ("community", "police", "local_authority", "health", "employer", "other")
CASE_TYPES = ("sex_trafficking", "child_sexual_exploitation", "labour_trafficking", "violence_against_women",
              "other")
# Who brought a case, or a referral, to the program; the first three are the networks.
REFERRED_BY = ("community_network", "peer_educator", "gatekeeper", "hotline", "police", "self", "other")
NETWORK_REFERRERS = REFERRED_BY[:3]
RECRUITER_RELATIONS = ("stranger", "relative", "friend", "partner", "employer", "broker", "other", "unknown")
VERDICTS = ("convicted", "acquitted", "dismissed", "pending")
# The indicators a target can name: the metric keys of the contract.
INDICATORS = ("participants_registered", "graduation_rate", "vocational_progression",
              "job_exit_rate", "followup_coverage", "sustained_exit_6m", "business_starts",
              "savings_rate", "savings_per_member", "referral_completion_rate",
              "people_reached", "new_contacts", "network_members", "network_groups", "network_referrals",
              "cases_reported", "survivors_rescued", "charge_rate", "perpetrators_convicted",
              "known_recruiter_rate", "days_to_verdict")

_PID = Column("participant_id", TEXT, True, description="Pseudonymous participant code, e.g. PW-0042",
              identifier=True)

TABLES: dict[str, Table] = {t.name: t for t in (
    Table("participants", "One row per woman or girl registered by a program", (
        _PID,
        Column("organization", TEXT, description="Defaults to the workbook's organization"),
        Column("program", TEXT, True, description="e.g. Night Outreach, Empowerment Training"),
        Column("site", TEXT, True, description="Province / district, e.g. Phnom Penh, Siem Reap - Pouk"),
        Column("intake_date", DATE, True, description="Day of registration"),
        Column("birth_year", INTEGER, description="Gives the age band at intake"),
        Column("referral_source", CATEGORY, categories=REFERRAL_SOURCES, description="How she came to the program"),
        Column("work_setting", CATEGORY, categories=WORK_SETTINGS, description="Where she worked at intake"),
    ), unique_id="participant_id"),
    Table("enrollments", "One row per participant per course", (
        _PID,
        Column("course", TEXT, True, description="e.g. Empowerment Training, Sewing, Beauty"),
        Column("course_type", CATEGORY, True, COURSE_TYPES, "Kind of course"),
        Column("cohort", TEXT, description="Class or intake group"),
        Column("start_date", DATE, True, description="First day of the course"),
        Column("end_date", DATE, description="Empty while enrolled"),
        Column("status", CATEGORY, True, ENROLLMENT_STATUSES, "enrolled, graduated or dropped_out"),
        Column("scholarship", BOOLEAN, description="Yes / No"),
    ), date_order=(("start_date", "end_date"),), references_participants=True),
    Table("followups", "One row per status check of a participant", (
        _PID,
        Column("followup_date", DATE, True, description="Day of the check"),
        Column("employment_status", CATEGORY, True, EMPLOYMENT_STATUSES, "Her work at the check"),
        Column("monthly_income", AMOUNT, non_negative=True, description="USD unless marked ៛/KHR"),
        Column("currency", CATEGORY, categories=CURRENCIES, description="USD or KHR"),
    ), references_participants=True),
    Table("savings", "One row per savings-group member per meeting or month", (
        Column("group_id", TEXT, True, description="Savings group code"),
        Column("group_type", TEXT, description="e.g. karaoke workers, community network"),
        Column("member_id", TEXT, True, description="The member's participant_id where registered",
               identifier=True),
        Column("period", DATE, True, description="Meeting date or month"),
        Column("deposit", AMOUNT, True, non_negative=True, description="0 when nothing was saved"),
        Column("withdrawal", AMOUNT, non_negative=True, description="Amount taken out"),
        Column("currency", CATEGORY, categories=CURRENCIES, description="USD or KHR"),
    )),
    Table("activities", "One row per outreach or awareness activity", (
        Column("activity_date", DATE, True, description="Day of the activity"),
        Column("site", TEXT, True, description="Where it took place"),
        Column("activity_type", CATEGORY, True, ACTIVITY_TYPES, "Kind of activity"),
        Column("audience", TEXT, description="karaoke workers, police, village chiefs, ..."),
        Column("sessions", INTEGER, non_negative=True, description="Default 1"),
        Column("reached", INTEGER, non_negative=True, description="People reached"),
        Column("new_contacts", INTEGER, non_negative=True, description="People newly connected"),
    )),
    Table("services", "One row per referral or support given to a participant", (
        _PID,
        Column("service_date", DATE, True, description="Day of the referral or support"),
        Column("service_type", CATEGORY, True, SERVICE_TYPES, "Kind of service"),
        Column("provider", TEXT, description="Who gave it"),
        Column("status", CATEGORY, True, SERVICE_STATUSES, "completed, pending or declined"),
        Column("amount", AMOUNT, non_negative=True, description="Loans and cash support"),
        Column("currency", CATEGORY, categories=CURRENCIES, description="USD or KHR"),
        Column("referred_by", CATEGORY, categories=REFERRED_BY, description="Who referred her: community_network, peer_educator, gatekeeper, ..."),
    ), references_participants=True),
    Table("targets", "What the program promised its donors", (
        Column("indicator", CATEGORY, True, INDICATORS, "A metric key, e.g. graduation_rate"),
        Column("program", TEXT, description="Empty means all programs"),
        Column("site", TEXT, description="Empty means all sites"),
        Column("period_start", DATE, True, description="First day of the target period"),
        Column("period_end", DATE, True, description="Last day of the target period"),
        Column("target", NUMBER, True, non_negative=True, description="A count, or a rate in percent"),
    ), date_order=(("period_start", "period_end"),)),
    # A network member need not be a registered participant; where she is, member_id is her
    # participant_id and her member rows find her (as a savings member's do).
    Table("network_members", "One row per member of a community, peer-educator or gatekeeper network", (
        Column("member_id", TEXT, True, description="Pseudonymous code; her participant_id where registered",
               identifier=True),
        Column("network", TEXT, True, description="e.g. Community-Based Protection Network, Peer educators"),
        Column("group_id", TEXT, description="Her network group (CBPN group, self-help group)"),
        Column("site", TEXT, True, description="Province / district"),
        Column("role", CATEGORY, True, NETWORK_ROLES, "member, group_leader, peer_educator or gatekeeper"),
        Column("sector", CATEGORY, categories=SECTORS, description="For gatekeepers and partners"),
        Column("joined_date", DATE, True, description="Day she joined"),
        Column("left_date", DATE, description="Empty while active"),
        Column("trained", BOOLEAN, description="Received the network's training: Yes / No"),
    ), date_order=(("joined_date", "left_date"),)),
    # The most sensitive table: no free text, no names, counts only (see Privacy in README).
    Table("cases", "One row per case of trafficking, exploitation or violence supported through the justice system", (
        Column("case_id", TEXT, True, description="Pseudonymous case code, e.g. CASE-0042; never a name",
               identifier=True),
        Column("site", TEXT, True, description="Province / district"),
        Column("case_type", CATEGORY, True, CASE_TYPES, "Kind of case"),
        Column("reported_date", DATE, True, description="First report to the program or the police"),
        Column("referred_by", CATEGORY, categories=REFERRED_BY, description="Who brought the case"),
        Column("survivors", INTEGER, non_negative=True, description="Survivors supported in the case (default 1)"),
        Column("minors", INTEGER, non_negative=True, description="Of them, under 18"),
        Column("recruiter_relation", CATEGORY, categories=RECRUITER_RELATIONS,
               description="Who recruited the survivors: stranger, relative, friend, ..."),
        Column("rescue_date", DATE, description="Survivors removed to safety"),
        Column("charged_date", DATE, description="A suspect charged"),
        Column("verdict_date", DATE, description="Day of the verdict"),
        Column("verdict", CATEGORY, categories=VERDICTS, description="convicted, acquitted, dismissed or pending"),
        Column("perpetrators_convicted", INTEGER, non_negative=True, description="People convicted in the case"),
    ), date_order=(("reported_date", "verdict_date"), ("charged_date", "verdict_date")), unique_id="case_id"),
)}

# Columns stored for each table: the declared ones less `currency` (amounts are stored
# in USD once converted), plus the organization every row belongs to.
def stored_columns(table: str) -> list[str]:
    names = [c for c in TABLES[table].column_names if c != "currency"]
    if "organization" not in names:
        names.insert(0, "organization")
    return names
