"""Flask helpers: a connection per request, a Session per request, 404s and pagination.

Flask is an optional dependency (``pip install tinyorm[flask]``); nothing in tinyorm's core
imports this module.

    db = tinyorm.connect("sqlite:///app.db")
    app = Flask(__name__)
    flask_db = FlaskDB(app, db, session_per_request=True)

    @app.route("/notes/<int:note_id>", methods=["PATCH"])
    def edit(note_id):
        session = flask_db.session                 # this request's Session
        note = get_object_or_404(session.query(Note), Note.id == note_id)
        check_version(note, request.headers.get("If-Match"))   # StaleDataError -> 409
        note.text = request.json["text"]
        return {"ok": True}                        # committed before this is sent

``FlaskDB`` opens the database connection when a request starts and closes it (returns it
to the pool) when the request ends. With ``session_per_request=True`` it also gives each
request a ``Session`` that commits in ``after_request``, before Flask sends the response; a
commit that fails with ``StaleDataError`` becomes a 409 response (see
``playhouse.sessions``), as does a ``StaleDataError`` raised by a view.
"""

from __future__ import annotations

import math

from flask import Response, abort, render_template, request

from playhouse.sessions import RequestSession, _close_connections, current_session, error_response_for
from tinyorm import ConcurrencyError

__all__ = ["FlaskDB", "get_object_or_404", "object_list", "PaginatedQuery"]

_REQUEST_KEY = "tinyorm_request_session"


def _response(triple):
    status, headers, body = triple
    return Response(body, status=status, headers=headers)


class FlaskDB:
    """Ties a Database (or Router, or DatabaseProxy) to a Flask app's request cycle."""

    def __init__(self, app=None, database=None, session_per_request=False, **session_options):
        self.database = database
        self.session_per_request = session_per_request
        self.session_options = session_options
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        """Register the request hooks (for app factories: ``flask_db.init_app(app)``)."""
        if self.database is None:
            raise RuntimeError("FlaskDB needs a database: FlaskDB(app, db) or flask_db.database = db")
        app.before_request(self.connect_db)
        app.after_request(self.commit_session)
        app.teardown_request(self.close_db)
        app.register_error_handler(ConcurrencyError, self._concurrency_error)
        app.extensions["tinyorm"] = self

    @property
    def Model(self):
        """A Model base class bound to this database: ``class Note(flask_db.Model)``."""
        return self.database.Model

    @property
    def session(self):
        """This request's Session (``session_per_request=True``)."""
        return current_session()

    # -- request hooks -----------------------------------------------------------------------
    def connect_db(self):
        """``before_request``: open the connection (and the request's Session)."""
        if self.session_per_request:
            request.environ[_REQUEST_KEY] = RequestSession(
                self.database, close_connections=False, **self.session_options
            )
        self.database.connect()

    def commit_session(self, response):
        """``after_request``: commit before the response is sent, or answer 409/503."""
        current = request.environ.get(_REQUEST_KEY)
        if current is None:
            return response
        replacement = current.finish(response.status_code)
        return _response(replacement) if replacement is not None else response

    def close_db(self, exc):
        """``teardown_request``: end the Session (rolling back what was not committed) and
        close the connection."""
        current = request.environ.pop(_REQUEST_KEY, None)
        try:
            if current is not None:
                current.close()  # rolls back whatever was not committed (the view raised)
        finally:
            _close_connections(self.database)

    def _concurrency_error(self, exc):
        current = request.environ.get(_REQUEST_KEY)
        if current is not None:
            current.session.rollback()
        return _response(error_response_for(exc))


def get_object_or_404(query_or_model, *conditions):
    """The one row matching, or a 404 response (``abort(404)``)."""
    query = query_or_model.select() if isinstance(query_or_model, type) else query_or_model
    if conditions:
        query = query.where(*conditions)
    row = query.first()
    if row is None:
        abort(404)
    return row


class PaginatedQuery:
    """One page of a query, the page number read from the request (``?page=2``)."""

    def __init__(self, query, paginate_by=20, page_var="page", page=None, check_bounds=False):
        self.query = query
        self.paginate_by = paginate_by
        self.page_var = page_var
        self._page = page
        self.check_bounds = check_bounds

    def get_page(self):
        """The page number (1-based) from the request; 404 for a bad one."""
        if self._page is not None:
            return self._page
        value = request.args.get(self.page_var, "1")
        try:
            page = int(value)
        except ValueError:
            abort(404)
        if page < 1:
            abort(404)
        return page

    def get_page_count(self):
        """The number of pages (one COUNT query)."""
        return max(1, math.ceil(self.query.count(clear_limit=True) / self.paginate_by))

    def get_object_list(self):
        """The query limited to the current page (404 past the last with ``check_bounds``)."""
        page = self.get_page()
        if self.check_bounds and page > self.get_page_count():
            abort(404)
        return self.query.paginate(page, self.paginate_by)


def object_list(
    template_name, query, context_variable="object_list", paginate_by=20, page_var="page", check_bounds=True, **context
):
    """Render ``template_name`` with one page of ``query`` as ``context_variable``, plus
    ``pagination`` (a PaginatedQuery) and ``page`` (the page number)."""
    paginated = PaginatedQuery(query, paginate_by=paginate_by, page_var=page_var, check_bounds=check_bounds)
    context[context_variable] = paginated.get_object_list()
    return render_template(template_name, pagination=paginated, page=paginated.get_page(), **context)
