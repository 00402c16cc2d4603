"""The review queue: uploads wait here, most urgent first, for one reviewer each.

Everything a person does to an item is written to ``review_events`` (who,
what, when) and to the audit log in the same transaction.

``ReviewQueue`` is the one handle the service and CLI use; each job is a
part it is made of: uploads in (``intake``), claiming (``claims``), what is
queued (``listing``), what a reviewer sees (``viewing``) and decides
(``decisions``), what is on record (``history``), list feedback for curators
(``feedback``), hotline reports (``reports``) and what is kept
(``retention``).
"""

from __future__ import annotations

from bastion.config import Settings
from bastion.review.claims import Claims
from bastion.review.decisions import Decisions
from bastion.review.feedback import Feedback
from bastion.review.history import History
from bastion.review.intake import Intake
from bastion.review.listing import Listing
from bastion.review.priority import tier_order
from bastion.review.reports import Reports
from bastion.review.retention import Retention
from bastion.review.vault import Vault
from bastion.review.viewing import Viewing
from bastion.store import Store


class ReviewQueue(
    Intake, Claims, Listing, Viewing, Decisions, History, Feedback, Reports, Retention
):
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.vault = Vault.from_setting(settings.media_keys)
        self.order = tier_order(settings.review_priority)
