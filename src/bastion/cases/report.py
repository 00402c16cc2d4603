"""The case report: one self-contained HTML document of what a case holds.

An investigator files it, prints it to PDF or hands it to a prosecutor, so it
carries everything inside itself - styles, and charts as inline SVG - and
nothing from outside: no scripts, no fonts or links to fetch, and no image of
case content, only counts, paths, hashes' verdicts and who decided what.
What was *not* checked is stated next to the totals, never left to be
inferred from a missing line.

The store fills :class:`CaseReportData`; :func:`render_report` only renders
it, with Jinja2 escaping every string that comes from the case.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import jinja2
import matplotlib
from markupsafe import Markup, escape
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from bastion.about import __version__

#: The label ``counts_by_category`` gives items nobody has categorised.
UNCATEGORISED = "uncategorised"


@dataclass(frozen=True, slots=True)
class ReportCluster:
    cluster_id: int
    size: int
    priority: str
    category: str | None
    #: Why the cluster sits at its priority (the match or provenance that put it there).
    reason: str


@dataclass(frozen=True, slots=True)
class ReportBank:
    name: str
    kind: str
    entries: int
    version: str | None
    imported_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReportDecision:
    at: datetime
    analyst: str
    cluster_id: int
    members: int
    action: str
    category: str | None


@dataclass(frozen=True, slots=True)
class ReportSource:
    """One piece of evidence scanned into the case."""

    path: str
    added_at: datetime
    items: int
    errors: int


@dataclass(frozen=True, slots=True)
class CaseReportData:
    case: str
    created_at: datetime
    generated_at: datetime
    #: The category scheme analysts use in this case (Project VIC, NCMEC or a custom one).
    scheme: str
    sources: list[ReportSource]
    #: (priority label, clusters, items), highest priority first.
    counts_by_priority: list[tuple[str, int, int]]
    #: (category label, items), including :data:`UNCATEGORISED`.
    counts_by_category: list[tuple[str, int]]
    #: ("2019-07", items) in order: items whose EXIF or C2PA data gives a capture time.
    capture_months: list[tuple[str, int]]
    #: (provenance level, items).
    provenance_levels: list[tuple[str, int]]
    largest_clusters: list[ReportCluster]
    banks: list[ReportBank]
    decisions: list[ReportDecision]
    #: (reason, items) that were not checked: unreadable files, skipped members...
    unchecked: list[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class _Summary:
    items: int
    clusters: int
    categorised: int
    not_checked: int
    source_errors: int


def render_report(data: CaseReportData) -> str:
    """The whole HTML document of the case report."""
    categorised = sum(n for label, n in data.counts_by_category if label != UNCATEGORISED)
    summary = _Summary(
        items=sum(items for _, _, items in data.counts_by_priority),
        clusters=sum(clusters for _, clusters, _ in data.counts_by_priority),
        categorised=categorised,
        not_checked=sum(n for _, n in data.unchecked),
        source_errors=sum(source.errors for source in data.sources),
    )
    priority = [(label, items) for label, _, items in data.counts_by_priority]
    charts = {
        "priority": _bar_chart("priority", priority, "Items by priority"),
        "category": _bar_chart("category", data.counts_by_category, "Items by category"),
        "capture": _month_chart(data.capture_months),
        "provenance": _bar_chart("provenance", data.provenance_levels, "Items by provenance"),
    }
    template = _ENVIRONMENT.get_template("report.html")
    return template.render(data=data, summary=summary, charts=charts, version=__version__)


def _when(moment: datetime | None) -> str:
    """A time as written in the report: ISO 8601 to the second, with its offset if known."""
    return "—" if moment is None else moment.isoformat(sep=" ", timespec="seconds")


def _number(value: int) -> str:
    return f"{value:,}"


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("bastion.cases", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters["when"] = _when
_ENVIRONMENT.filters["number"] = _number


# Charts: matplotlib figures saved as SVG, inlined in the document.  Figures are
# made directly (``Figure()``), never through pyplot: no GUI backend is chosen,
# whatever the process's default, and no figure is kept in a global list.

#: matplotlib's settings live in one global dictionary: charts are drawn one at a time.
_DRAWING = threading.Lock()
_WIDTH = 6.3  # inches: an A4 page's width inside its margins
_BAR_COLOUR = "#3b6ea5"
_LONGEST_LABEL = 40
_SVG_SIZE = re.compile(r'\b(width|height|viewBox)="([^"]*)"')
#: matplotlib names each group after its artist ("figure_1", "axes_1"), the same in
#: every chart; nothing refers to them, and one HTML document must not repeat an id.
_GROUP_ID = re.compile(r'<g id="[^"]*"')


def _bar_chart(name: str, counts: Sequence[tuple[str, int]], title: str) -> Markup | None:
    """Horizontal bars, first row on top, each with its count; None when there is nothing."""
    if not any(n for _, n in counts):
        return None
    labels = [_short(label) for label, _ in counts]
    values = [n for _, n in counts]
    with _DRAWING, _chart_settings(name):
        figure = Figure(figsize=(_WIDTH, 0.7 + 0.3 * len(counts)))
        axes = figure.add_subplot()
        bars = axes.barh(range(len(values)), values, color=_BAR_COLOUR)
        axes.set_yticks(range(len(values)), labels)
        axes.invert_yaxis()
        axes.bar_label(bars, labels=[_number(n) for n in values], padding=3)
        axes.margins(x=0.12)
        axes.set_xlabel("items")
        _plain_axes(axes, "x")
        return _svg(figure, title)


def _month_chart(months: Sequence[tuple[str, int]]) -> Markup | None:
    """Items per capture month along a line of months, so months without items show as gaps."""
    if not any(n for _, n in months):
        return None
    positions = [_month_number(month) for month, _ in months]
    first, last = min(positions), max(positions)
    margin = max(1, (12 - (last - first)) // 2)  # a few months do not make wide bars
    shown = last - first + 2 * margin
    step = next((s for s in _MONTH_STEPS if shown // s < 8), _MONTH_STEPS[-1])
    ticks = range(first, last + 1, step)  # from the first month, so it is always named
    with _DRAWING, _chart_settings("capture"):
        figure = Figure(figsize=(_WIDTH, 2.6))
        axes = figure.add_subplot()
        axes.bar(positions, [n for _, n in months], width=0.8, color=_BAR_COLOUR)
        axes.set_xticks(ticks, [_month_label(m) for m in ticks])
        axes.set_xlim(first - margin, last + margin)
        axes.set_ylabel("items")
        _plain_axes(axes, "y")
        return _svg(figure, "Items by month of capture")


#: Months between labels on the capture axis: the first that keeps them to about seven.
_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120, 600)


def _month_number(month: str) -> int:
    """ "2019-07" as a count of months (January of year 0 is 0)."""
    moment = datetime.strptime(month, "%Y-%m")
    return moment.year * 12 + moment.month - 1


def _month_label(number: int) -> str:
    year, month = divmod(number, 12)
    return f"{year}-{month + 1:02d}"


def _chart_settings(name: str) -> AbstractContextManager[None]:
    return matplotlib.rc_context(
        {
            # Text stays text: searchable, selectable, and in the report's own font.
            "svg.fonttype": "none",
            # Element ids from the chart's name: unique within the report, and the
            # same for the same data (a report can be compared with an earlier one).
            "svg.hashsalt": f"bastion-report-{name}",
            # A category named "$5" is a label, not mathematics.
            "text.parse_math": False,
            "font.size": 9,
        }
    )


def _plain_axes(axes: Axes, counts_along: Literal["x", "y"]) -> None:
    """No box around the plot; whole counts written as in the tables, with light grid
    lines behind the bars."""
    axes.spines[["top", "right"]].set_visible(False)
    counts = axes.xaxis if counts_along == "x" else axes.yaxis
    counts.set_major_locator(MaxNLocator(nbins=6, integer=True))
    counts.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.set_axisbelow(True)
    axes.grid(axis=counts_along, color="#dddddd")


def _short(label: str) -> str:
    """A chart's label (the tables beside the charts give labels in full)."""
    return label if len(label) <= _LONGEST_LABEL else label[: _LONGEST_LABEL - 1] + "…"


def _svg(figure: Figure, title: str) -> Markup:
    """The figure as an ``<svg>`` element to inline in HTML, described for screen readers.

    The XML prolog, DOCTYPE and namespace declarations go (an HTML parser
    puts inline ``<svg>`` in the SVG namespace itself), and with them every
    ``http://`` in the chart; matplotlib's metadata is not written at all,
    and its groups' ids are dropped.
    """
    buffer = io.StringIO()
    no_metadata: dict[str, str | None] = {
        "Creator": None,
        "Date": None,
        "Format": None,
        "Type": None,
    }
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=no_metadata)
    document = buffer.getvalue()
    start = document.index("<svg")
    end = document.index(">", start) + 1
    size = " ".join(f'{key}="{value}"' for key, value in _SVG_SIZE.findall(document, start, end))
    opening = f'<svg {size} role="img" aria-label="{escape(title)}">'
    return Markup(opening + _GROUP_ID.sub("<g", document[end:]).rstrip())
