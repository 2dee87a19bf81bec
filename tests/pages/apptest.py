"""Starting the app under Streamlit's AppTest (a helper module, not fixtures)."""

from __future__ import annotations

from tests.support import ROOT


def new_app(page: str | None = None):
    """An AppTest of app.py, switched to `page` (e.g. 'pages/data.py') and run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at
