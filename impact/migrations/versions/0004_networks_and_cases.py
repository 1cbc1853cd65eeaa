"""Community networks and the justice pathway: the clean tables network_members and cases,
and services.referred_by (who referred her: a network, the police, ...).

Their records carry a permanent random key from the start (`record_key`, for the cell-key
noise of donors' figures, revision 0003). Only new things: a store of the previous revision keeps every upload and row; its services
have no referred_by (nobody could write one before).
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def _data_columns(*columns: sa.Column) -> list:
    """A clean table's columns: the upload it came from, its organization, its own columns,
    and where each row was in the spreadsheet."""
    return [sa.Column("upload_id", sa.Integer(), nullable=False),
            sa.Column("organization", sa.Text(), nullable=True),
            *columns,
            sa.Column("source_sheet", sa.Text(), nullable=True),
            sa.Column("source_row", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"])]


def upgrade() -> None:
    op.add_column("services", sa.Column("referred_by", sa.Text(), nullable=True))
    op.create_table("network_members", *_data_columns(
        sa.Column("member_id", sa.Text(), nullable=True),
        sa.Column("network", sa.Text(), nullable=True),
        sa.Column("group_id", sa.Text(), nullable=True),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("sector", sa.Text(), nullable=True),
        sa.Column("joined_date", sa.Date(), nullable=True),
        sa.Column("left_date", sa.Date(), nullable=True),
        sa.Column("trained", sa.Boolean(), nullable=True),
        sa.Column("record_key", sa.Integer(), nullable=True)))
    op.create_index("ix_network_members_upload_id", "network_members", ["upload_id"])
    op.create_table("cases", *_data_columns(
        sa.Column("case_id", sa.Text(), nullable=True),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("case_type", sa.Text(), nullable=True),
        sa.Column("reported_date", sa.Date(), nullable=True),
        sa.Column("referred_by", sa.Text(), nullable=True),
        sa.Column("survivors", sa.Integer(), nullable=True),
        sa.Column("minors", sa.Integer(), nullable=True),
        sa.Column("recruiter_relation", sa.Text(), nullable=True),
        sa.Column("rescue_date", sa.Date(), nullable=True),
        sa.Column("charged_date", sa.Date(), nullable=True),
        sa.Column("verdict_date", sa.Date(), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=True),
        sa.Column("perpetrators_convicted", sa.Integer(), nullable=True),
        sa.Column("record_key", sa.Integer(), nullable=True)))
    op.create_index("ix_cases_upload_id", "cases", ["upload_id"])
