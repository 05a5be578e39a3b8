"""All mapped classes. Import from here: ``from storage.models import Mention``."""
from storage.models.base import Base
from storage.models.sources import CollectionRun, EngagementSnapshot, ImportedFile, Source
from storage.models.mentions import Analysis, Mention
from storage.models.alerts import (
    DetectorState,
    Incident,
    IncidentMention,
    MentionVector,
    Notification,
    Silence,
    SpreadAlarm,
    Ticket,
    TicketEvent,
)
from storage.models.corrections import Correction
from storage.models.ops import Heartbeat, RunLock
from storage.models.users import ApiToken, SavedView, User

__all__ = [
    "Analysis", "ApiToken", "Base", "CollectionRun", "Correction", "DetectorState", "EngagementSnapshot",
    "Heartbeat", "ImportedFile", "Incident", "IncidentMention", "Mention", "MentionVector", "Notification",
    "RunLock", "SavedView", "Silence", "Source", "SpreadAlarm", "Ticket", "TicketEvent", "User",
]
