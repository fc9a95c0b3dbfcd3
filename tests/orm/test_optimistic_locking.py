"""Optimistic locking with VersionField, identical from ``save()``, ``delete_instance()`` and
session flushes, on every backend (the ``db`` fixture)."""

import pytest

import tinyorm
from tinyorm import (
    CharField,
    ConcurrencyError,
    Model,
    Session,
    StaleDataError,
    TextField,
    VersionField,
)

from ._session_helpers import elsewhere, statements


def make_models(db):
    class Base(Model):
        class Meta:
            database = db

    class Doc(Base):
        title = CharField(max_length=50)
        body = TextField(null=True)
        version = VersionField()

    class Note(Base):  # no version: plain last-writer-wins
        title = CharField(max_length=50)

    db.create_tables([Doc, Note])
    return Doc, Note


@pytest.fixture
def models(db):
    return make_models(db)


def committed(db, model, pk):
    """(title, version) of a row as another connection sees it; None if it is gone."""

    def read():
        rows = list(model.select(model.title, model.version).where(model.id == pk).tuples())
        return rows[0] if rows else None

    return elsewhere(db, read)


def bump_elsewhere(db, Doc, pk, title="winner"):
    """Another writer saves the row first (its own connection, its own object)."""

    def write():
        doc = Doc.get_by_id(pk)
        doc.title = title
        doc.save()
        return doc.version

    return elsewhere(db, write)


def delete_elsewhere(db, Doc, pk):
    elsewhere(db, lambda: Doc.delete().where(Doc.id == pk).execute())


def flat_params(counter, verb):
    values = []
    for sql, params in counter.statements:
        if sql.lstrip().upper().startswith(verb):
            for item in params or ():
                values.extend(item if isinstance(item, (list, tuple)) else [item])
    return values


# -- the SQL ------------------------------------------------------------------------------
def test_new_rows_start_at_version_one(db, models):
    Doc, _ = models
    created = Doc.create(title="a")
    assert created.version == 1
    s = Session(db, expire_on_commit=False)
    added = Doc(title="b")
    s.add(added)
    s.commit()
    assert added.version == 1
    assert committed(db, Doc, created.id) == ("a", 1)
    assert committed(db, Doc, added.id) == ("b", 1)


def test_save_checks_and_bumps_the_version(db, models, count_queries):
    Doc, _ = models
    doc = Doc.create(title="a")
    doc.title = "b"
    with count_queries(db) as counter:
        assert doc.save() == 1
    [update] = statements(counter, "UPDATE")
    quote = db.dialect.quote
    where = update.split("WHERE", 1)[1]
    assert quote("version") in where and quote("id") in where
    assert quote("version") in update.split("WHERE", 1)[0]  # SET version = version + 1
    assert 1 in flat_params(counter, "UPDATE")
    assert doc.version == 2
    doc.title = "c"
    doc.save()
    assert doc.version == 3
    assert committed(db, Doc, doc.id) == ("c", 3)


def test_flush_checks_and_bumps_the_version(db, models, count_queries):
    Doc, _ = models
    pk = Doc.create(title="a").id
    s = Session(db, expire_on_commit=False)
    doc = s.get(Doc, pk)
    doc.title = "b"
    with count_queries(db) as counter:
        s.commit()
    [update] = statements(counter, "UPDATE")
    assert update.count(db.dialect.quote("version")) >= 3  # set, bumped from, checked
    assert 1 in flat_params(counter, "UPDATE")
    assert doc.version == 2
    assert committed(db, Doc, pk) == ("b", 2)


def test_delete_instance_checks_the_version(db, models, count_queries):
    Doc, _ = models
    doc = Doc.create(title="a")
    with count_queries(db) as counter:
        doc.delete_instance()
    [delete] = statements(counter, "DELETE")
    assert db.dialect.quote("version") in delete.split("WHERE", 1)[1]
    assert committed(db, Doc, doc.id) is None


def test_session_delete_checks_the_version(db, models, count_queries):
    Doc, _ = models
    pk = Doc.create(title="a").id
    s = Session(db)
    s.delete(s.get(Doc, pk))
    with count_queries(db) as counter:
        s.commit()
    [delete] = statements(counter, "DELETE")
    assert db.dialect.quote("version") in delete.split("WHERE", 1)[1]
    assert committed(db, Doc, pk) is None


# -- stale writes are refused, the first write is kept --------------------------------------
class Writer:
    """One way of writing an object loaded before another writer got in."""

    def __init__(self, db, Doc, pk):
        self.db, self.Doc, self.pk = db, Doc, pk

    def load(self):
        raise NotImplementedError

    def update(self, title):
        raise NotImplementedError

    def delete(self):
        raise NotImplementedError


class SaveWriter(Writer):
    def load(self):
        self.obj = self.Doc.get_by_id(self.pk)

    def update(self, title):
        self.obj.title = title
        self.obj.save()

    def delete(self):
        self.obj.delete_instance()


class FlushWriter(Writer):
    def load(self):
        self.session = Session(self.db)
        self.obj = self.session.get(self.Doc, self.pk)

    def update(self, title):
        self.obj.title = title
        try:
            self.session.flush()
        finally:
            self.session.rollback()

    def delete(self):
        self.session.delete(self.obj)
        try:
            self.session.flush()
        finally:
            self.session.rollback()


class CommitWriter(FlushWriter):
    def update(self, title):
        with self.session:
            self.obj.title = title

    def delete(self):
        with self.session:
            self.session.delete(self.obj)


WRITERS = {"save": SaveWriter, "flush": FlushWriter, "commit": CommitWriter}


@pytest.mark.parametrize("how", sorted(WRITERS))
def test_a_stale_update_is_refused_and_the_first_write_kept(db, models, how):
    Doc, _ = models
    pk = Doc.create(title="original").id
    writer = WRITERS[how](db, Doc, pk)
    writer.load()
    assert bump_elsewhere(db, Doc, pk, "winner") == 2
    with pytest.raises(StaleDataError) as caught:
        writer.update("loser")
    assert isinstance(caught.value, ConcurrencyError)
    assert isinstance(caught.value, tinyorm.TinyORMError)
    message = str(caught.value)
    assert "Doc" in message and repr(pk) in message
    assert "version" in message and "deleted" not in message
    assert committed(db, Doc, pk) == ("winner", 2)


@pytest.mark.parametrize("how", sorted(WRITERS))
def test_an_update_of_a_deleted_row_is_refused(db, models, how):
    Doc, _ = models
    pk = Doc.create(title="original").id
    writer = WRITERS[how](db, Doc, pk)
    writer.load()
    delete_elsewhere(db, Doc, pk)
    with pytest.raises(StaleDataError) as caught:
        writer.update("loser")
    message = str(caught.value)
    assert "Doc" in message and repr(pk) in message
    assert "deleted" in message
    assert committed(db, Doc, pk) is None


@pytest.mark.parametrize("how", sorted(WRITERS))
def test_a_stale_delete_is_refused_and_the_row_kept(db, models, how):
    Doc, _ = models
    pk = Doc.create(title="original").id
    writer = WRITERS[how](db, Doc, pk)
    writer.load()
    bump_elsewhere(db, Doc, pk, "winner")
    with pytest.raises(StaleDataError) as caught:
        writer.delete()
    message = str(caught.value)
    assert "Doc" in message and repr(pk) in message
    assert "version" in message and "deleted" not in message
    assert committed(db, Doc, pk) == ("winner", 2)


@pytest.mark.parametrize("how", sorted(WRITERS))
def test_a_delete_of_an_already_deleted_row_says_so(db, models, how):
    Doc, _ = models
    pk = Doc.create(title="original").id
    writer = WRITERS[how](db, Doc, pk)
    writer.load()
    delete_elsewhere(db, Doc, pk)
    with pytest.raises(StaleDataError, match="deleted"):
        writer.delete()


def test_the_messages_for_moved_and_deleted_differ(db, models):
    Doc, _ = models
    moved_pk = Doc.create(title="moved").id
    gone_pk = Doc.create(title="gone").id
    moved, gone = Doc.get_by_id(moved_pk), Doc.get_by_id(gone_pk)
    bump_elsewhere(db, Doc, moved_pk)
    delete_elsewhere(db, Doc, gone_pk)
    moved.title = gone.title = "late"
    with pytest.raises(StaleDataError) as moved_error:
        moved.save()
    with pytest.raises(StaleDataError) as gone_error:
        gone.save()
    assert str(moved_error.value) != str(gone_error.value)
    assert "deleted" in str(gone_error.value) and "deleted" not in str(moved_error.value)


def test_a_stale_object_writes_nothing_of_its_flush(db, models):
    Doc, Note = models
    stale_pk = Doc.create(title="stale").id
    fresh_pk = Doc.create(title="fresh").id
    s = Session(db)
    stale, fresh = s.get(Doc, stale_pk), s.get(Doc, fresh_pk)
    bump_elsewhere(db, Doc, stale_pk, "winner")
    new_doc, new_note = Doc(title="new"), Note(title="new note")
    s.add_all([new_doc, new_note])
    fresh.title = "fresh changed"
    stale.title = "loser"
    with pytest.raises(StaleDataError):
        s.flush()
    assert committed(db, Doc, stale_pk) == ("winner", 2)
    assert committed(db, Doc, fresh_pk) == ("fresh", 1)
    assert elsewhere(db, lambda: Doc.select().count()) == 2
    assert elsewhere(db, lambda: Note.select().count()) == 0
    # In memory too: nothing looks written.
    assert new_doc.id is None and new_note.id is None
    assert fresh.version == 1 and stale.version == 1
    s.rollback()


def test_in_a_batched_flush_the_error_names_the_stale_object(db, models):
    Doc, _ = models
    pks = [Doc.create(title=f"doc{n}").id for n in range(6)]
    s = Session(db)
    docs = [s.get(Doc, pk) for pk in pks]
    bump_elsewhere(db, Doc, pks[3], "winner")
    for doc in docs:
        doc.title = "batch"
    with pytest.raises(StaleDataError) as caught:
        s.flush()
    message = str(caught.value)
    assert f"primary key {pks[3]!r}" in message
    for pk in pks[:3] + pks[4:]:
        assert f"primary key {pk!r}" not in message
    s.rollback()
    titles = [committed(db, Doc, pk)[0] for pk in pks]
    assert titles == ["doc0", "doc1", "doc2", "winner", "doc4", "doc5"]


def test_a_batched_delete_with_one_stale_row_deletes_nothing(db, models):
    Doc, _ = models
    pks = [Doc.create(title=f"doc{n}").id for n in range(4)]
    s = Session(db)
    docs = [s.get(Doc, pk) for pk in pks]
    bump_elsewhere(db, Doc, pks[1])
    for doc in docs:
        s.delete(doc)
    with pytest.raises(StaleDataError, match=f"primary key {pks[1]!r}"):
        s.commit()
    s.rollback()
    assert elsewhere(db, lambda: Doc.select().count()) == 4


def test_after_a_stale_error_refresh_and_retry_succeeds(db, models):
    Doc, _ = models
    pk = Doc.create(title="a").id
    s = Session(db)
    doc = s.get(Doc, pk)
    bump_elsewhere(db, Doc, pk, "winner")
    doc.title = "mine"
    with pytest.raises(StaleDataError):
        s.commit()
    s.rollback()
    assert (doc.title, doc.version) == ("winner", 2)  # expired by rollback: reloaded
    doc.title = "mine"
    s.commit()
    assert committed(db, Doc, pk) == ("mine", 3)


def test_after_a_stale_save_refresh_and_retry_succeeds(db, models):
    Doc, _ = models
    doc = Doc.create(title="a")
    bump_elsewhere(db, Doc, doc.id, "winner")
    doc.title = "mine"
    with pytest.raises(StaleDataError):
        doc.save()
    doc.refresh()
    assert (doc.title, doc.version) == ("winner", 2)
    doc.title = "mine"
    doc.save()
    assert committed(db, Doc, doc.id) == ("mine", 3)


# -- MySQL rows-matched counts --------------------------------------------------------------
def test_a_save_that_sets_identical_values_is_not_stale(db, models):
    # MySQL reports "changed" rows by default; an UPDATE whose values are already stored
    # would count 0 and look stale. tinyorm connects with FOUND_ROWS (rows matched).
    Doc, Note = models
    doc = Doc.create(title="a")
    quote, param = db.dialect.quote, db.dialect.param
    elsewhere(db, lambda: db.execute_sql(f"UPDATE {quote('doc')} SET {quote('title')} = {param}", ["b"]))
    doc.title = "b"  # the value the row already holds
    assert doc.save() == 1
    assert committed(db, Doc, doc.id) == ("b", 2)

    note = Note.create(title="a")
    elsewhere(db, lambda: db.execute_sql(f"UPDATE {quote('note')} SET {quote('title')} = {param}", ["b"]))
    note.title = "b"
    assert note.save() == 1
    assert Note.update(title="b").where(Note.id == note.id).execute() == 1


def test_a_flush_that_sets_identical_values_is_not_stale(db, models):
    Doc, _ = models
    pks = [Doc.create(title="a").id for _ in range(3)]
    s = Session(db)
    docs = [s.get(Doc, pk) for pk in pks]
    quote, param = db.dialect.quote, db.dialect.param
    elsewhere(db, lambda: db.execute_sql(f"UPDATE {quote('doc')} SET {quote('title')} = {param}", ["b"]))
    for doc in docs:
        doc.title = "b"
    s.commit()
    assert [committed(db, Doc, pk) for pk in pks] == [("b", 2)] * 3


# -- bulk updates -------------------------------------------------------------------------
def test_bulk_update_bumps_the_version(db, models):
    Doc, _ = models
    first = Doc.create(title="a")
    second = Doc.create(title="b")
    assert Doc.update(body="bulk").where(Doc.id == first.id).execute() == 1
    assert committed(db, Doc, first.id) == ("a", 2)
    assert committed(db, Doc, second.id) == ("b", 1)
    assert Doc.update(title="all").execute() == 2
    assert committed(db, Doc, first.id) == ("all", 3)
    assert committed(db, Doc, second.id) == ("all", 2)
    # So an object loaded before the bulk update is stale.
    first.title = "late"
    with pytest.raises(StaleDataError):
        first.save()


def test_bulk_update_that_sets_the_version_itself_is_left_alone(db, models):
    Doc, _ = models
    doc = Doc.create(title="a")
    Doc.update(version=Doc.version + 10).where(Doc.id == doc.id).execute()
    assert committed(db, Doc, doc.id) == ("a", 11)


def test_concurrent_sessions_one_thread_each_in_turn(db, models):
    # Two sessions, each with its own object for the same row; the second to commit loses.
    Doc, _ = models
    pk = Doc.create(title="a").id
    first, second = Session(db), Session(db)
    mine, theirs = first.get(Doc, pk), second.get(Doc, pk)
    assert mine is not theirs
    mine.title = "first"
    theirs.title = "second"
    first.commit()
    with pytest.raises(StaleDataError):
        second.commit()
    second.rollback()
    assert committed(db, Doc, pk) == ("first", 2)
    assert theirs.title == "first"
