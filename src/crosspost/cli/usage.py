"""`crosspost usage`: metered usage and quotas, on the local state."""

from __future__ import annotations

from typing import Annotated

import typer

from crosspost.cli._common import App, Col, ExitCode, examples, out, services
from crosspost.config import Settings

app = App()


@app.command(epilog=examples("crosspost usage", "crosspost usage --period 2026-05 --json"))
def usage(
    period: Annotated[
        str | None,
        typer.Option(help="Calendar month in UTC, YYYY-MM; default: this month.", metavar="MONTH"),
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
        out().error(err.detail)
        svc.close()
        raise typer.Exit(ExitCode.USAGE) from None
    with svc.db.read() as conn:
        report = metering.usage_report(conn, default_tenant(svc), month)
    svc.close()

    def human() -> None:
        keys = [k["key_id"] for k in report["keys"]]
        rows = [
            [
                metric,
                str(report["tenant"][metric]),
                *(str(k["metrics"][metric]) for k in report["keys"]),
            ]
            for metric in metering.METRICS
        ]
        cols = [Col("metric"), Col("tenant"), *(Col(k, keep=True) for k in keys)]
        out().table(cols, rows, title=f"usage in {month} (UTC)")
        if report["quotas"]:
            quotas = [
                [q["metric"], str(q["used"]),
                 *("-" if q[k] is None else str(q[k]) for k in ("soft_limit", "hard_limit"))]
                for q in report["quotas"]
            ]  # fmt: skip
            out().line("")
            cols = [Col("quota"), Col("used"), Col("soft limit"), Col("hard limit")]
            out().table(cols, quotas, title="monthly quotas")

    out().result({"period": month, **report}, human=human)
