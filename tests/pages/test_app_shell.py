"""AppTest of the shell: Home renders, the access gate works (every page is built; none is a placeholder)."""

from __future__ import annotations

from tests.pages.apptest import new_app


def test_home_shows_workspace_contents(app_env):
    at = new_app()
    assert not at.exception
    assert at.title[0].value == "Strategy Lab"
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["Your tables"]) >= 6  # the sample tables; the app's own are on Home's expander
    assert labels["Product events"].endswith("k")  # about TEST_EVENTS (30,000), compact: "29.4k"
    assert any("Sample data" in i.value for i in at.info)


def test_password_gate_blocks_until_correct(app_env, monkeypatch):
    monkeypatch.setenv("STRATLAB_PASSWORD", "s3cret")
    at = new_app()
    assert not at.metric
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert any("Wrong password" in e.value for e in at.error)
    assert not at.metric
    at.text_input[0].input("s3cret")
    at.button[0].click().run()
    assert at.metric, "the page did not open after the right password"


def test_exposed_server_without_password_warns(app_env):
    at = new_app()
    at.run()
    # AppTest runs with the project's config (loopback): no warning.
    assert not any("listens beyond" in w.value for w in at.warning)
