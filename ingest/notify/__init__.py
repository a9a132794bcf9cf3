"""Notifications sent outside the app: e-mail and signed webhooks, through an outbox.

:mod:`ingest.notify.dispatch` writes the notice (in-app notifications and outbox rows) in the
caller's transaction; :mod:`ingest.notify.jobs` sends each outbox row and retries it.
docs/notifications.md describes the whole.
"""
