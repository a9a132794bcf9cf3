"""Dash pages: one module per page, each calling ``dash.register_page``.

How a page is written: docs/contributing.md, Pages.

Dash imports every module here when the app is built (``use_pages=True``). A page module must
do no I/O at import; data callbacks use ``dashboard.auth.policy.guarded_callback``.
Set ``nav=False`` in ``register_page`` to keep a page out of the navbar.
"""
