"""The last run of each scheduled job, kept in the database for /healthz; its last success and failures for /metrics."""

import sqlalchemy as sa

from ..database import insert, read_transaction, write_transaction
from ..models import JobRun


def record(name: str, values: dict) -> None:
    """Store `values` (ran_at, trigger, outcome, count, error) as the last run of `name`.

    A success also becomes the last success; a failure adds one to the
    job's failures, which only grow, as a Prometheus counter must.
    """
    ok = values["outcome"] == "ok"
    with write_transaction() as connection:
        upsert = insert(connection, JobRun).values(
            name=name, **values, succeeded_at=values["ran_at"] if ok else None, failures=0 if ok else 1)
        after = {**values, "succeeded_at": values["ran_at"]} if ok else {**values, "failures": JobRun.failures + 1}
        connection.execute(upsert.on_conflict_do_update(index_elements=[JobRun.name], set_=after))


def last_runs() -> dict[str, dict]:
    """Return the last run of every job that has run, by job name."""
    with read_transaction() as connection:
        return {run["name"]: dict(run) for run in connection.execute(sa.select(JobRun.__table__)).mappings()}
