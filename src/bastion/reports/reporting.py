"""Reports from confirmed items to the CyberTipline, step by step, and what is preserved.

A report is first recorded (``create``: its items, annotations and the
exact ``<report>`` document), then sent (``send``): ``/submit``, then for
each file ``/upload`` and ``/fileinfo``, then ``/finish``.  Each step's
answer (the ``reportId``, each ``fileId``, each document sent) is committed
before the next step starts, with its audit record, so a sender killed at
any point resumes with ``send`` again: nothing submitted twice, no file
uploaded twice.  (A kill in the instant between NCMEC's answer and the
commit is the one window left: the step is then repeated.)

A permanent refusal before ``/finish`` retracts the report at NCMEC; server
errors are retried, and when retries run out the report keeps its step.
A finished report places its items' media and context on hold for
``BASTION_PRESERVE_DAYS`` (at least 365), as 18 U.S.C. 2258A(h) asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import Permission, Principal, Role
from bastion.config import LEAST_PRESERVE_DAYS, ConfigError, Settings, read_secret_file
from bastion.provenance.carriers import find_carriers
from bastion.provenance.exif import parse_exif
from bastion.reports.client import CyberTipClient
from bastion.reports.cybertip_xml import file_details_document, report_document
from bastion.reports.drafting import (
    ItemFacts,
    checked_annotations,
    file_report,
    item_facts,
    reported_user,
    suggested_annotations,
)
from bastion.reports.errors import (
    CyberTipRefused,
    ReportError,
    ReportForbidden,
    ReportNotFound,
)
from bastion.reports.tipline import (
    DEFAULT_INCIDENT_TYPE,
    FILE_ANNOTATIONS,
    INCIDENT_TYPES,
    Reporter,
    TipReport,
)
from bastion.review.items import Decision, Status
from bastion.review.retention import place_hold
from bastion.review.vault import Sealed, Vault
from bastion.store import Store, as_utc
from bastion.store.models import Report, ReportFile, ReportSetting, ReviewItem, ReviewMedia

#: How many recently confirmed items are looked through for the same uploader.
GROUP_WINDOW = 500
#: The ``report_settings`` row that holds the reporter.
REPORTER = "reporter"


class ReportState(StrEnum):
    NEW = "new"  #: recorded, not yet submitted
    SUBMITTED = "submitted"  #: NCMEC gave a reportId; files may be part-sent
    FINISHED = "finished"
    RETRACTED = "retracted"  #: a permanent refusal (or a person) withdrew it before finish
    FAILED = "failed"  #: refused at submit: nothing is open at NCMEC


#: States in which an item counts as reported (or being reported).
_LIVE = (ReportState.NEW, ReportState.SUBMITTED, ReportState.FINISHED)

#: Who a principal is, or the CLI's operator (``cli:<user>``).
Who = Principal | str


@dataclass(frozen=True, slots=True)
class Draft:
    """A report before it is recorded: its document and its files' details."""

    report: TipReport
    report_xml: bytes
    files: tuple[tuple[int, bytes], ...]  #: (item id, fileDetails with placeholder ids)


class Reporting:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        vault: Vault,
        client: Callable[[], CyberTipClient] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.vault = vault
        #: Makes the CyberTipline client for one send (tests shorten its waits).
        self.client_factory = client or self._configured_client

    # --- who may ----------------------------------------------------------------------

    def may_report(self, who: Who) -> bool:
        if isinstance(who, str):
            return True
        if who.role is Role.CLIENT:
            return False
        if who.may(Permission.HOLD):
            return True
        return (
            who.role is Role.REVIEWER
            and who.kind == "user"
            and bool(self.settings.reviewers_report)
        )

    def _require(self, who: Who) -> str:
        if not self.may_report(who):
            role = who.role if isinstance(who, Principal) else "?"
            hint = (
                " (set BASTION_REVIEWERS_REPORT=1 to let reviewers report)"
                if role == Role.REVIEWER
                else ""
            )
            raise ReportForbidden(f"role {role} may not send CyberTipline reports{hint}")
        return who if isinstance(who, str) else who.actor

    # --- the reporter -----------------------------------------------------------------

    def reporter(self) -> Reporter | None:
        with self.store.sessions() as session:
            row = session.get(ReportSetting, REPORTER)
            return Reporter.from_dict(json.loads(row.value)) if row else None

    def set_reporter(self, reporter: Reporter, who: Who) -> Reporter:
        actor = self._require(who)
        person = reporter.reporting
        if not (person.first_name and person.last_name and person.emails):
            raise ReportError("the reporting person needs a first name, a last name and an email")
        with self.store.transaction() as session:
            row = session.get(ReportSetting, REPORTER)
            value = json.dumps(reporter.to_dict(), sort_keys=True)
            now = datetime.now(UTC)
            if row is None:
                session.add(
                    ReportSetting(name=REPORTER, value=value, updated_at=now, updated_by=actor)
                )
            else:
                row.value, row.updated_at, row.updated_by = value, now, actor
            audit.record(session, actor, "report.reporter", REPORTER)
        return reporter

    # --- drafts and records -----------------------------------------------------------

    def suggestions(self, item_id: int) -> dict[str, str]:
        """Annotations preselected for an item, with why (``generativeAi`` from provenance)."""
        with self.store.sessions() as session:
            row = session.get(ReviewItem, item_id)
            if row is None:
                raise ReportNotFound(f"no review item {item_id}")
            return suggested_annotations(row)

    def same_uploader(self, item_id: int) -> list[int]:
        """Other confirmed items of this item's uploader not yet in a report (to
        group), among the ``GROUP_WINDOW`` most recently decided (each one's
        context is decrypted to compare)."""
        with self.store.sessions() as session:
            facts = item_facts(session, self.vault, item_id)
            if facts.uploader is None:
                return []
            candidates = session.execute(
                select(ReviewItem.id)
                .where(
                    ReviewItem.decision == Decision.CONFIRMED.value,
                    ReviewItem.status == Status.DECIDED.value,
                    ReviewItem.id != item_id,
                )
                .order_by(ReviewItem.decided_at.desc(), ReviewItem.id.desc())
                .limit(GROUP_WINDOW)
            ).scalars()
            found = []
            for other in candidates:
                if _in_report(session, other) is not None:
                    continue
                try:
                    if item_facts(session, self.vault, other).uploader == facts.uploader:
                        found.append(other)
                except ReportError:
                    continue
            return found

    def panel(self, item_id: int, who: Who) -> dict[str, Any] | None:
        """What the review UI shows of reporting an item: its report if it has
        one, else (when confirmed and ``who`` may report) the choices."""
        if not self.may_report(who):
            return None
        with self.store.sessions() as session:
            row = session.get(ReviewItem, item_id)
            if row is None:
                raise ReportNotFound(f"no review item {item_id}")
            existing = _in_report(session, item_id)
            panel: dict[str, Any] = {
                "report": (
                    {"id": existing.id, "state": existing.state, "remote_id": existing.remote_id}
                    if existing
                    else None
                ),
                "reportable": False,
            }
            if existing is not None or row.decision != Decision.CONFIRMED.value:
                return panel
            try:
                facts = item_facts(session, self.vault, item_id)
            except ReportError as exc:
                return {**panel, "problem": str(exc)}
        return {
            **panel,
            "reportable": True,
            "incident_types": INCIDENT_TYPES,
            "annotations": FILE_ANNOTATIONS,
            "suggestions": suggested_annotations(facts.item),
            "group": self.same_uploader(item_id),
            "uploader": facts.uploader,
            "viewed": facts.viewed,
            "exif_viewed": facts.exif_viewed,
        }

    def draft(
        self,
        item_ids: list[int],
        who: Who,
        *,
        incident_type: str = DEFAULT_INCIDENT_TYPE,
        annotations: list[str] | None = None,
        escalate: str | None = None,
    ) -> Draft:
        """The documents a report of these items would send (``--dry-run``)."""
        self._require(who)
        with self.store.sessions() as session:
            report, _ = self._compose(session, item_ids, incident_type, annotations, escalate)
        files = tuple(
            (file.item_id, file_details_document(0, "(assigned by NCMEC)", file))
            for file in report.files
        )
        return Draft(report, report_document(report), files)

    def create(
        self,
        item_ids: list[int],
        who: Who,
        *,
        incident_type: str = DEFAULT_INCIDENT_TYPE,
        annotations: list[str] | None = None,
        escalate: str | None = None,
    ) -> int:
        """Record a report of confirmed items (one uploader's); its id. Nothing is sent."""
        actor = self._require(who)
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            report, chosen = self._compose(session, item_ids, incident_type, annotations, escalate)
            for item_id in item_ids:
                earlier = _in_report(session, item_id)
                if earlier is not None:
                    raise ReportError(
                        f"item {item_id} is already in report {earlier.id} ({earlier.state})"
                        + (
                            "; resume it with `bastion report resume`"
                            if earlier.state != ReportState.FINISHED
                            else ""
                        )
                    )
            row = Report(
                created_at=now,
                created_by=actor,
                state=ReportState.NEW.value,
                endpoint=self.settings.cybertip_url,
                incident_type=report.incident_type,
                uploader=report.reported.esp_identifier if report.reported else None,
                report_xml=report_document(report).decode(),
            )
            session.add(row)
            session.flush()
            for position, item_id in enumerate(item_ids):
                session.add(
                    ReportFile(
                        report_id=row.id,
                        item_id=item_id,
                        position=position,
                        annotations=json.dumps(list(chosen[item_id])),
                    )
                )
            audit.record(session, actor, "report.create", f"report:{row.id}", items=item_ids)
            return row.id

    def _compose(
        self,
        session: Session,
        item_ids: list[int],
        incident_type: str,
        annotations: list[str] | None,
        escalate: str | None,
    ) -> tuple[TipReport, dict[int, tuple[str, ...]]]:
        if not item_ids:
            raise ReportError("a report needs at least one item")
        if len(set(item_ids)) != len(item_ids):
            raise ReportError("an item is named twice")
        if incident_type not in INCIDENT_TYPES:
            expected = "; ".join(INCIDENT_TYPES)
            raise ReportError(
                f"unknown incident type {incident_type!r} (expected one of: {expected})"
            )
        reporter = self._reporter(session)
        facts = [item_facts(session, self.vault, item_id) for item_id in item_ids]
        user = reported_user(facts, reporter.esp_service)
        chosen = {
            f.item.id: (
                checked_annotations(annotations)
                if annotations is not None
                else tuple(suggested_annotations(f.item))
            )
            for f in facts
        }
        files = tuple(file_report(f, chosen[f.item.id], self._exif(session, f)) for f in facts)
        urls = tuple(dict.fromkeys(f.context.url for f in facts if f.context.url))
        report = TipReport(
            incident_type=incident_type,
            incident_at=min(f.uploaded_at for f in facts),
            reporter=reporter,
            urls=urls,
            reported=user,
            escalate=escalate or None,
            files=files,
        )
        return report, chosen

    def _reporter(self, session: Session) -> Reporter:
        row = session.get(ReportSetting, REPORTER)
        if row is None:
            raise ReportError(
                "no reporter is set: run `bastion report reporter set --first-name … "
                "--last-name … --email …` once"
            )
        return Reporter.from_dict(json.loads(row.value))

    def _exif(self, session: Session, facts: ItemFacts) -> tuple[tuple[str, str], ...]:
        """The EXIF pairs a person viewed (none when nobody did)."""
        if not facts.exif_viewed:
            return ()
        fields = parse_exif(
            find_carriers(self._media(session, facts.item.id), self.settings.max_metadata_bytes)
        )
        return tuple(sorted(fields.values.items()))

    def _media(self, session: Session, item_id: int) -> bytes:
        stored = session.get(ReviewMedia, item_id)
        if stored is None:
            raise ReportError(f"item {item_id} has no media to send")
        return self.vault.open(item_id, Sealed(stored.key_id, stored.blob))

    # --- sending ----------------------------------------------------------------------

    def send(self, report_id: int, who: Who) -> dict[str, Any]:
        """Send a recorded report, or resume it from the step it reached."""
        actor = self._require(who)
        record = self._record(report_id)
        state = ReportState(record["state"])
        if state is ReportState.FINISHED:
            return record
        if state in (ReportState.RETRACTED, ReportState.FAILED):
            raise ReportError(f"report {report_id} was {state}; make a new report of its items")
        client = self.client_factory()
        try:
            remote = record["remote_id"] or self._submit(client, report_id, actor)
            for file_row in record["files"]:
                self._send_file(client, report_id, remote, file_row, actor)
            client.finish(remote)
            self._finish(report_id, remote, actor)
        except CyberTipRefused as exc:
            self._refused(client, report_id, actor, exc)
            raise
        except Exception as exc:
            self._note(report_id, str(exc))
            raise
        finally:
            client.close()
        return self._record(report_id)

    def _submit(self, client: CyberTipClient, report_id: int, actor: str) -> int:
        with self.store.sessions() as session:
            document = session.execute(
                select(Report.report_xml).where(Report.id == report_id)
            ).scalar_one()
        remote = client.submit(str(document).encode())
        with self.store.transaction() as session:
            session.execute(
                update(Report)
                .where(Report.id == report_id)
                .values(
                    remote_id=remote,
                    state=ReportState.SUBMITTED.value,
                    submitted_at=datetime.now(UTC),
                    error=None,
                )
            )
            audit.record(session, actor, "report.submit", f"report:{report_id}", report_id=remote)
        return remote

    def _send_file(
        self,
        client: CyberTipClient,
        report_id: int,
        remote: int,
        file_row: dict[str, Any],
        actor: str,
    ) -> None:
        item_id = int(file_row["item"])
        file_id = file_row["file_id"]
        if file_id is None:
            with self.store.sessions() as session:
                facts = item_facts(session, self.vault, item_id)
                name = file_report(facts, (), ()).file_name
                data = self._media(session, item_id)
            uploaded = client.upload(remote, name, data)
            del data
            file_id = uploaded.file_id
            with self.store.transaction() as session:
                session.execute(
                    update(ReportFile)
                    .where(ReportFile.report_id == report_id, ReportFile.item_id == item_id)
                    .values(remote_file_id=file_id, md5=uploaded.md5, uploaded_at=datetime.now(UTC))
                )
                audit.record(
                    session,
                    actor,
                    "report.upload",
                    f"report:{report_id}",
                    item=item_id,
                    file_id=file_id,
                )
        if file_row["described_at"] is not None:
            return
        with self.store.sessions() as session:
            facts = item_facts(session, self.vault, item_id)
            annotations = tuple(file_row["annotations"])
            details = file_details_document(
                remote, file_id, file_report(facts, annotations, self._exif(session, facts))
            )
        client.fileinfo(details)
        with self.store.transaction() as session:
            session.execute(
                update(ReportFile)
                .where(ReportFile.report_id == report_id, ReportFile.item_id == item_id)
                .values(fileinfo_xml=details.decode(), described_at=datetime.now(UTC))
            )
            audit.record(
                session,
                actor,
                "report.fileinfo",
                f"report:{report_id}",
                item=item_id,
                file_id=file_id,
            )

    def _finish(self, report_id: int, remote: int, actor: str) -> None:
        now = datetime.now(UTC)
        days = max(self.settings.preserve_days, LEAST_PRESERVE_DAYS)
        with self.store.transaction() as session:
            session.execute(
                update(Report)
                .where(Report.id == report_id)
                .values(state=ReportState.FINISHED.value, finished_at=now, error=None)
            )
            items = list(
                session.execute(
                    select(ReportFile.item_id).where(ReportFile.report_id == report_id)
                ).scalars()
            )
            audit.record(session, actor, "report.finish", f"report:{report_id}", report_id=remote)
            place_hold(
                session,
                items,
                now + timedelta(days=days),
                f"CyberTipline report {remote} (Bastion report {report_id}): preserved "
                f"for {days} days under 18 U.S.C. 2258A(h)",
                actor,
            )

    def _refused(
        self, client: CyberTipClient, report_id: int, actor: str, exc: CyberTipRefused
    ) -> None:
        """A permanent refusal: retract what is open at NCMEC, and say why on the report."""
        record = self._record(report_id)
        remote = record["remote_id"]
        note = str(exc)
        state = ReportState.FAILED
        if remote is not None:
            try:
                client.retract(remote)
                state = ReportState.RETRACTED
            except Exception as retract_error:  # noqa: BLE001 - the refusal is what is raised
                note += f"; retracting report {remote} failed too: {retract_error}"
                state = ReportState.SUBMITTED
        with self.store.transaction() as session:
            values: dict[str, Any] = {"state": state.value, "error": note}
            if state is ReportState.RETRACTED:
                values["retracted_at"] = datetime.now(UTC)
            session.execute(update(Report).where(Report.id == report_id).values(**values))
            audit.record(session, actor, f"report.{state.value}", f"report:{report_id}", error=note)

    def _note(self, report_id: int, error: str) -> None:
        with self.store.transaction() as session:
            session.execute(update(Report).where(Report.id == report_id).values(error=error))

    def retract(self, report_id: int, who: Who) -> dict[str, Any]:
        """Withdraw a report not yet finished (at NCMEC too, if it was submitted)."""
        actor = self._require(who)
        record = self._record(report_id)
        state = ReportState(record["state"])
        if state is ReportState.FINISHED:
            raise ReportError(
                f"report {report_id} is finished (CyberTipline report {record['remote_id']}); "
                "a finished report cannot be retracted through the API"
            )
        if state in (ReportState.RETRACTED, ReportState.FAILED):
            return record
        if record["remote_id"] is not None:
            client = self.client_factory()
            try:
                client.retract(int(record["remote_id"]))
            finally:
                client.close()
        with self.store.transaction() as session:
            session.execute(
                update(Report)
                .where(Report.id == report_id)
                .values(state=ReportState.RETRACTED.value, retracted_at=datetime.now(UTC))
            )
            audit.record(session, actor, "report.retracted", f"report:{report_id}")
        return self._record(report_id)

    # --- reading ----------------------------------------------------------------------

    def show(self, report_id: int, who: Who) -> dict[str, Any]:
        self._require(who)
        return self._record(report_id)

    def list(self, who: Who, *, limit: int = 100) -> list[dict[str, Any]]:
        self._require(who)
        with self.store.sessions() as session:
            ids = list(
                session.execute(select(Report.id).order_by(Report.id.desc()).limit(limit)).scalars()
            )
        return [self._record(report_id, documents=False) for report_id in ids]

    def _record(self, report_id: int, *, documents: bool = True) -> dict[str, Any]:
        with self.store.sessions() as session:
            row = session.get(Report, report_id)
            if row is None:
                raise ReportNotFound(f"no report {report_id}")
            files = session.execute(
                select(ReportFile, ReviewItem)
                .join(ReviewItem, ReviewItem.id == ReportFile.item_id)
                .where(ReportFile.report_id == report_id)
                .order_by(ReportFile.position)
            ).all()
            return {
                "id": row.id,
                "state": row.state,
                "endpoint": row.endpoint,
                "incident_type": row.incident_type,
                "uploader": row.uploader,
                "remote_id": row.remote_id,
                "created_at": as_utc(row.created_at).isoformat(),
                "created_by": row.created_by,
                "submitted_at": _iso(row.submitted_at),
                "finished_at": _iso(row.finished_at),
                "retracted_at": _iso(row.retracted_at),
                "error": row.error,
                "files": [
                    {
                        "item": item.id,
                        "annotations": json.loads(file.annotations),
                        "file_id": file.remote_file_id,
                        "md5": file.md5,
                        "uploaded_at": _iso(file.uploaded_at),
                        "described_at": _iso(file.described_at),
                        "hold_until": _iso(item.hold_until),
                        "hold_reason": item.hold_reason,
                        **({"fileinfo_xml": file.fileinfo_xml} if documents else {}),
                    }
                    for file, item in files
                ],
                **({"report_xml": row.report_xml} if documents else {}),
            }

    # --- configuration ----------------------------------------------------------------

    def _configured_client(self) -> CyberTipClient:
        return CyberTipClient(
            self.settings.cybertip_url, load_credentials(self.settings.cybertip_credentials)
        )


def load_credentials(path: Path | None) -> tuple[str, str]:
    """``user:password`` from the credentials file, refused if others may read it."""
    try:
        text = read_secret_file(path, "CYBERTIP_CREDENTIALS").decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    user, colon, password = text.partition(":")
    if not colon or not user or not password or "\n" in text:
        raise ConfigError(f"{path} must hold one line, user:password")
    return user, password


def _in_report(session: Session, item_id: int) -> Report | None:
    return session.execute(
        select(Report)
        .join(ReportFile, ReportFile.report_id == Report.id)
        .where(ReportFile.item_id == item_id, Report.state.in_([s.value for s in _LIVE]))
        .order_by(Report.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None
