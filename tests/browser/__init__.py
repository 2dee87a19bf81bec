"""Real-browser journeys: Playwright driving Debian's Chromium against a Streamlit server."""
