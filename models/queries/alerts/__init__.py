"""Reads of alert rules, their reviews, and the notification outbox and channels."""
