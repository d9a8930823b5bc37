"""The support matrix: Python 3.10-3.13 x Django 4.2 / 5.2 / 6.0 (where Python allows).

Run ``nox`` (``pip install nox``); ``nox -s "tests-3.12(django='6.0')"`` runs one cell.
"""

import nox

DJANGO = {"4.2": "Django>=4.2,<5.0", "5.2": "Django>=5.2,<6.0", "6.0": "Django>=6.0,<6.1"}


@nox.session(python=["3.10", "3.11", "3.12", "3.13"])
@nox.parametrize("django", list(DJANGO))
def tests(session: nox.Session, django: str) -> None:
    if django == "6.0" and session.python in ("3.10", "3.11"):
        session.skip("Django 6.0 needs Python 3.12 or newer")
    session.install("-e", ".[test]", DJANGO[django])
    session.run("python", "-m", "pytest", "-m", "not browser and not integration", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
