"""The user agent our headless Chromium shows: desktop Chrome's, for the tests and scripts/screenshots.py."""


def desktop_user_agent(version: str) -> str:
    """Return desktop Chrome's user agent on Linux for a Chromium version, reduced as Chrome does."""
    major = version.split(".")[0]
    return f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"
