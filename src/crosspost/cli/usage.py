"""`crosspost usage`: metered usage and quotas, on the local state."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from crosspost.cli._common import console, notes, services
from crosspost.config import Settings

app = typer.Typer()


@app.command()
def usage(
    period: Annotated[
        str | None, typer.Option(help="Calendar month in UTC, YYYY-MM; default: this month.")
    ] = None,
) -> None:
    """Show the default tenant's metered usage and quotas for a month."""
    from crosspost.engine.keys import default_tenant  # noqa: PLC0415
    from crosspost.errors import CrosspostError  # noqa: PLC0415
    from crosspost.usage import metering  # noqa: PLC0415

    svc = services(Settings())
    try:
        month = metering.parse_period(period) if period else metering.period_of(svc.clock.now())
    except CrosspostError as err:
        notes.print(f"[red]{err.detail}[/]")
        svc.close()
        raise typer.Exit(2) from None
    with svc.db.read() as conn:
        report = metering.usage_report(conn, default_tenant(svc), month)
    svc.close()
    keys = [k["key_id"] for k in report["keys"]]
    table = Table("metric", "tenant", *keys, title=f"usage in {month} (UTC)")
    for metric in metering.METRICS:
        table.add_row(
            metric,
            str(report["tenant"][metric]),
            *(str(k["metrics"][metric]) for k in report["keys"]),
        )
    console.print(table)
    if report["quotas"]:
        quotas = Table("quota", "used", "soft limit", "hard limit", title="monthly quotas")
        for q in report["quotas"]:
            limits = ("-" if q[k] is None else str(q[k]) for k in ("soft_limit", "hard_limit"))
            quotas.add_row(q["metric"], str(q["used"]), *limits)
        console.print(quotas)
