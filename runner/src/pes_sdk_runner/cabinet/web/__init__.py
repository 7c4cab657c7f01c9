"""The client cabinet's pages (личный кабинет): server-rendered with Jinja2, plain CSS and
one small script, mounted in the runner's app at ``/cabinet`` when ``[cabinet]`` is
configured (:func:`cabinet_app`). See :mod:`.routes` for the pages and :mod:`.security`
for the cookies, CSRF tokens and headers."""

from pes_sdk_runner.cabinet.web.routes import cabinet_app

__all__ = ["cabinet_app"]
