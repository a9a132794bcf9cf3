"""The admin console's tables and writes: one-time account links, access reviews, grant use.

``tables`` holds the ORM models (migration 0008); ``links``, ``users``, ``roles``, ``reviews``
and ``usage`` the audited writes, each taking a session and the acting principal and leaving
committing to the caller. Reads are in ``models.queries.admin_*``.
"""
