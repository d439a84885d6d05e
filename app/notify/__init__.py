"""Telling people what happened while they looked elsewhere: job-end notifications
kept until seen, live updates of the bell, and e-mail when asked for."""

from app.notify.mailer import Mailer, MailError
from app.notify.notifier import Notifier
from app.notify.store import NewNotification, NotificationStore

__all__ = ["MailError", "Mailer", "NewNotification", "NotificationStore", "Notifier"]
