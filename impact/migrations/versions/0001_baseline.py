"""Today's schema: the uploads (every version of every source), the seven clean tables, the
saved column mappings, staff accounts and sign-in attempts, donor share links and their opens.

A store made before migrations has some of these tables (the account and share-link tables
were made on first use): only the missing ones are created, so it keeps every upload and
version. Migrations go forward only; a store goes back by restoring a backup.
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

def _tables() -> list[tuple[str, list, list]]:
    """(table, columns and constraints, indexes as (name, columns, unique)), parents first;
    made anew on each call, as a Column belongs to one Table."""
    return [
        ("accounts", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("username", sa.Text(), nullable=False),
            sa.Column("role", sa.Text(), nullable=False),
            sa.Column("password_hash", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("disabled", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("username"),
        ], []),
        ("column_mappings", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=False),
            sa.Column("file_name", sa.Text(), nullable=False),
            sa.Column("table", sa.Text(), nullable=False),
            sa.Column("header", sa.Text(), nullable=False),
            sa.Column("column", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        ], [
            ("ux_column_mappings_source", ["organization", "file_name", "table", "header"], True),
        ]),
        ("share_links", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("public_id", sa.Text(), nullable=False),
            sa.Column("created_by", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("organizations", sa.JSON(), nullable=False),
            sa.Column("programs", sa.JSON(), nullable=False),
            sa.Column("sites", sa.JSON(), nullable=False),
            sa.Column("period_start", sa.Date(), nullable=True),
            sa.Column("period_end", sa.Date(), nullable=True),
            sa.Column("pages", sa.JSON(), nullable=False),
            sa.Column("note", sa.Text(), nullable=False),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("public_id"),
        ], []),
        ("sign_in_attempts", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("username", sa.Text(), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("success", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        ], [
            ("ix_sign_in_attempts_username_at", ["username", "at"], False),
        ]),
        ("uploads", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=False),
            sa.Column("file_name", sa.Text(), nullable=False),
            sa.Column("sha256", sa.Text(), nullable=False),
            sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("uploader", sa.Text(), nullable=False),
            sa.Column("rows_read", sa.Integer(), nullable=False),
            sa.Column("rows_loaded", sa.Integer(), nullable=False),
            sa.Column("rows_rejected", sa.Integer(), nullable=False),
            sa.Column("rows_skipped", sa.Integer(), nullable=False),
            sa.Column("report_json", sa.Text(), nullable=False),
            sa.Column("content", sa.LargeBinary(), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        ], [
            ("ix_uploads_source", ["organization", "file_name", "active"], False),
        ]),
        ("activities", [
            sa.Column("upload_id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=True),
            sa.Column("activity_date", sa.Date(), nullable=True),
            sa.Column("site", sa.Text(), nullable=True),
            sa.Column("activity_type", sa.Text(), nullable=True),
            sa.Column("audience", sa.Text(), nullable=True),
            sa.Column("sessions", sa.Integer(), nullable=True),
            sa.Column("reached", sa.Integer(), nullable=True),
            sa.Column("new_contacts", sa.Integer(), nullable=True),
            sa.Column("source_sheet", sa.Text(), nullable=True),
            sa.Column("source_row", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        ], [
            ("ix_activities_upload_id", ["upload_id"], False),
        ]),
        ("enrollments", [
            sa.Column("upload_id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=True),
            sa.Column("participant_id", sa.Text(), nullable=True),
            sa.Column("course", sa.Text(), nullable=True),
            sa.Column("course_type", sa.Text(), nullable=True),
            sa.Column("cohort", sa.Text(), nullable=True),
            sa.Column("start_date", sa.Date(), nullable=True),
            sa.Column("end_date", sa.Date(), nullable=True),
            sa.Column("status", sa.Text(), nullable=True),
            sa.Column("scholarship", sa.Boolean(), nullable=True),
            sa.Column("source_sheet", sa.Text(), nullable=True),
            sa.Column("source_row", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        ], [
            ("ix_enrollments_participant", ["organization", "participant_id"], False),
            ("ix_enrollments_upload_id", ["upload_id"], False),
        ]),
        ("followups", [
            sa.Column("upload_id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=True),
            sa.Column("participant_id", sa.Text(), nullable=True),
            sa.Column("followup_date", sa.Date(), nullable=True),
            sa.Column("employment_status", sa.Text(), nullable=True),
            sa.Column("monthly_income", sa.Float(), nullable=True),
            sa.Column("source_sheet", sa.Text(), nullable=True),
            sa.Column("source_row", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        ], [
            ("ix_followups_participant", ["organization", "participant_id"], False),
            ("ix_followups_upload_id", ["upload_id"], False),
        ]),
        ("participants", [
            sa.Column("upload_id", sa.Integer(), nullable=False),
            sa.Column("participant_id", sa.Text(), nullable=True),
            sa.Column("organization", sa.Text(), nullable=True),
            sa.Column("program", sa.Text(), nullable=True),
            sa.Column("site", sa.Text(), nullable=True),
            sa.Column("intake_date", sa.Date(), nullable=True),
            sa.Column("birth_year", sa.Integer(), nullable=True),
            sa.Column("referral_source", sa.Text(), nullable=True),
            sa.Column("work_setting", sa.Text(), nullable=True),
            sa.Column("source_sheet", sa.Text(), nullable=True),
            sa.Column("source_row", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        ], [
            ("ix_participants_participant", ["organization", "participant_id"], False),
            ("ix_participants_upload_id", ["upload_id"], False),
        ]),
        ("savings", [
            sa.Column("upload_id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=True),
            sa.Column("group_id", sa.Text(), nullable=True),
            sa.Column("group_type", sa.Text(), nullable=True),
            sa.Column("member_id", sa.Text(), nullable=True),
            sa.Column("period", sa.Date(), nullable=True),
            sa.Column("deposit", sa.Float(), nullable=True),
            sa.Column("withdrawal", sa.Float(), nullable=True),
            sa.Column("source_sheet", sa.Text(), nullable=True),
            sa.Column("source_row", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        ], [
            ("ix_savings_upload_id", ["upload_id"], False),
        ]),
        ("services", [
            sa.Column("upload_id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=True),
            sa.Column("participant_id", sa.Text(), nullable=True),
            sa.Column("service_date", sa.Date(), nullable=True),
            sa.Column("service_type", sa.Text(), nullable=True),
            sa.Column("provider", sa.Text(), nullable=True),
            sa.Column("status", sa.Text(), nullable=True),
            sa.Column("amount", sa.Float(), nullable=True),
            sa.Column("source_sheet", sa.Text(), nullable=True),
            sa.Column("source_row", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        ], [
            ("ix_services_participant", ["organization", "participant_id"], False),
            ("ix_services_upload_id", ["upload_id"], False),
        ]),
        ("share_opens", [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("link_id", sa.Integer(), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("pages", sa.JSON(), nullable=False),
            sa.ForeignKeyConstraint(["link_id"], ["share_links.id"]),
            sa.PrimaryKeyConstraint("id"),
        ], [
            ("ix_share_opens_link_id", ["link_id"], False),
        ]),
        ("targets", [
            sa.Column("upload_id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=True),
            sa.Column("indicator", sa.Text(), nullable=True),
            sa.Column("program", sa.Text(), nullable=True),
            sa.Column("site", sa.Text(), nullable=True),
            sa.Column("period_start", sa.Date(), nullable=True),
            sa.Column("period_end", sa.Date(), nullable=True),
            sa.Column("target", sa.Float(), nullable=True),
            sa.Column("source_sheet", sa.Text(), nullable=True),
            sa.Column("source_row", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        ], [
            ("ix_targets_upload_id", ["upload_id"], False),
        ]),
    ]


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, items, indexes in _tables():
        if name in existing:
            continue
        op.create_table(name, *items)
        for index, columns, unique in indexes:
            op.create_index(index, name, columns, unique=unique)
