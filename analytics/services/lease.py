"""A lease in the database that elects one process of the deployment to run the scheduled jobs.

One row per lease name holds its holder and when it lapses. A process
takes or renews it in one conditional UPDATE, which the database runs
atomically on SQLite and PostgreSQL alike: it succeeds for the holder, or
for anyone once the lease has lapsed, and for no one else.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..clock import Clock
from ..database import insert, read_transaction, write_transaction
from ..models import SchedulerLease


@dataclass(frozen=True)
class Lease:
    """Who holds a lease, and until when."""

    holder: str
    expires_at: datetime


def take(name: str, holder: str, seconds: float, clock: Clock) -> bool:
    """Take or renew the lease `name` for `seconds` unless another holds it; return whether `holder` has it."""
    now = clock.now()
    with write_transaction() as connection:
        # The first take finds no row: make a lapsed one, which the UPDATE then takes like any other.
        first = insert(connection, SchedulerLease).values(name=name, holder="", expires_at=now)
        connection.execute(first.on_conflict_do_nothing(index_elements=[SchedulerLease.name]))
        taken = connection.execute(
            sa.update(SchedulerLease)
            .where(SchedulerLease.name == name,
                   sa.or_(SchedulerLease.expires_at <= now, SchedulerLease.holder == holder))
            .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
        )
        return taken.rowcount == 1


def release(name: str, holder: str, clock: Clock) -> None:
    """Let the lease lapse now if `holder` has it, so another process takes over at its next wake."""
    with write_transaction() as connection:
        connection.execute(
            sa.update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
            .values(expires_at=clock.now())
        )


def current(name: str, clock: Clock) -> Lease | None:
    """Return the lease `name` while it has not lapsed, else None."""
    with read_transaction() as connection:
        row = connection.execute(
            sa.select(SchedulerLease.holder, SchedulerLease.expires_at)
            .where(SchedulerLease.name == name, SchedulerLease.expires_at > clock.now())
        ).first()
    return None if row is None else Lease(holder=row.holder, expires_at=row.expires_at)
