"""The organization of each settled onboarding state (`onboarding_states.org_id`), the user's
`end_users.org_id`, kept by triggers on both tables: the organizations report groups the states by
it instead of joining a million states to a million users.

Triggers, not the refresh that writes the states: an instance still on the previous version
writes states without the column during a rolling upgrade, and the column must follow a user
moved to another organization by any write path. Not locked against a refresh (PostgreSQL): a
user's organization changed while a refresh rewrites that user's state can leave the state with the
old one until the user's next change (jiso never changes a user's organization).

Revision ID: 0012_onboarding_state_orgs
Revises: 0011_handover_facts
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012_onboarding_state_orgs"
down_revision = "0011_handover_facts"
branch_labels = None
depends_on = None

ORG_OF = "(SELECT u.org_id FROM end_users AS u WHERE u.id = {user})"
STATE_OF_USER = "UPDATE onboarding_states SET org_id = {org} WHERE user_id = {user}"
SQLITE_TRIGGERS = {
    "onboarding_state_org_insert": f"AFTER INSERT ON onboarding_states BEGIN {STATE_OF_USER.format(org=ORG_OF.format(user='NEW.user_id'), user='NEW.user_id')}; END",
    "onboarding_state_org_update": f"AFTER UPDATE OF user_id ON onboarding_states BEGIN {STATE_OF_USER.format(org=ORG_OF.format(user='NEW.user_id'), user='NEW.user_id')}; END",
    "onboarding_state_org_user_insert": f"AFTER INSERT ON end_users BEGIN {STATE_OF_USER.format(org='NEW.org_id', user='NEW.id')}; END",
    "onboarding_state_org_user_update": f"AFTER UPDATE OF id, org_id ON end_users BEGIN {STATE_OF_USER.format(org='NULL', user='OLD.id')}; {STATE_OF_USER.format(org='NEW.org_id', user='NEW.id')}; END",
    "onboarding_state_org_user_delete": f"AFTER DELETE ON end_users BEGIN {STATE_OF_USER.format(org='NULL', user='OLD.id')}; END",
}


def create_postgresql_triggers() -> None:
    op.execute(
        f"""CREATE FUNCTION onboarding_state_org() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    NEW.org_id := {ORG_OF.format(user="NEW.user_id")};
    RETURN NEW;
END $$"""
    )
    op.execute(
        f"""CREATE FUNCTION onboarding_state_org_of_user() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {STATE_OF_USER.format(org="NULL", user="OLD.id")};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {STATE_OF_USER.format(org="NEW.org_id", user="NEW.id")};
    END IF;
    RETURN NULL;
END $$"""
    )
    op.execute("CREATE TRIGGER onboarding_state_org BEFORE INSERT OR UPDATE OF user_id ON onboarding_states FOR EACH ROW EXECUTE FUNCTION onboarding_state_org()")
    op.execute("CREATE TRIGGER onboarding_state_org AFTER INSERT OR UPDATE OF id, org_id OR DELETE ON end_users FOR EACH ROW EXECUTE FUNCTION onboarding_state_org_of_user()")


def upgrade() -> None:
    op.add_column("onboarding_states", sa.Column("org_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        create_postgresql_triggers()
    op.execute(f"UPDATE onboarding_states SET org_id = {ORG_OF.format(user='onboarding_states.user_id')}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER onboarding_state_org ON onboarding_states")
        op.execute("DROP TRIGGER onboarding_state_org ON end_users")
        op.execute("DROP FUNCTION onboarding_state_org()")
        op.execute("DROP FUNCTION onboarding_state_org_of_user()")
    with op.batch_alter_table("onboarding_states") as batch:
        batch.drop_column("org_id")
