"""``tinyorm introspect`` on tables whose names clash or shadow: the generated module
imports, gives every table its class and every column its attribute, shadows no tinyorm
name or model method, and reads and writes a row through each model, on every engine."""

import importlib.util
import keyword

import tinyorm
from tinyorm import SQL, CharField, DateTimeField, ForeignKeyField, IntegerField, Model
from tinyorm.migrations.introspect import generate_models

# Tables whose class names clash once sanitised (a-b/a_b; ä/ö/å to A/O/A), shadow
# tinyorm names (char_field -> CharField, base_model -> BaseModel), are keywords, start
# with a digit or are empty after sanitising.
PLAIN_TABLES = ["a-b", "a_b", "ä", "ö", "char_field", "base_model", "class", "1st", "!!!", "???", "os", "database"]
# Columns shadowing model methods and attributes, keywords, digits, empty, non-ASCII.
COLUMNS = [
    "filter",
    "refresh",
    "save",
    "select",
    "pk",
    "get",
    "delete_instance",
    "DoesNotExist",
    "_meta",
    "__init__",
    "class",
    "match",
    "1x",
    "!!!",
    "???",
    "ä",
    "ﬁle",
    "Meta",
    "owner",
]


SAID = 'it\'s "q" ;-- """ ä'


def _model(name, fields):
    meta = type("Meta", (), {"table_name": name})
    return type(f"M{abs(hash(name))}", (Model,), {**fields, "Meta": meta, "__module__": __name__})


def _hostile_schema(db):
    models = [_model(table, {"label": CharField(max_length=20, null=True)}) for table in PLAIN_TABLES]
    columns = {f"c{index}": IntegerField(null=True, column_name=name) for index, name in enumerate(COLUMNS)}
    columns["fk"] = ForeignKeyField(models[0], null=True, column_name="owner_id")
    columns["fk2"] = ForeignKeyField(models[1], null=True, column_name="filter_id", backref="others")
    # Server defaults are written into the module too: an SQL expression and hostile text.
    columns["made"] = DateTimeField(null=True, server_default=SQL("CURRENT_TIMESTAMP"), column_name="made")
    columns["said"] = CharField(max_length=40, null=True, server_default=SAID, column_name="said")
    models.append(_model("cols", columns))
    for model in models:
        model.bind(db)
    db.create_tables(models)
    return models


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_introspected_hostile_names_import_and_round_trip(db, db_url, tmp_path, monkeypatch):
    _hostile_schema(db)
    monkeypatch.setenv("TINYORM_DATABASE_URL", db_url)
    source = generate_models(db, url=db_url)
    path = tmp_path / "generated_models.py"
    path.write_text(source, encoding="utf-8")
    module = _load(path, f"generated_{db.dialect.name}")
    try:
        models = {
            value._meta.table_name: value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, tinyorm.Model) and value is not module.BaseModel
        }
        # Every table its own class; every column its own field.
        assert set(models) == set(PLAIN_TABLES) | {"cols"}, source
        assert module.tinyorm is tinyorm and module.BaseModel.__bases__ == (tinyorm.Model,)
        cols = models["cols"]
        by_column = {field.column_name: field for field in cols._meta.fields.values()}
        assert set(by_column) == {"id", "owner_id", "filter_id", "made", "said", *COLUMNS}, source
        for field in by_column.values():
            assert field.name.isidentifier() and not keyword.iskeyword(field.name) and field.name.isascii()
        # No field shadows what a model class has: its methods still work on every class.
        for name in ("filter", "refresh", "save", "select", "get", "delete_instance", "match"):
            assert callable(getattr(cols, name)), name

        # Write and read a row through each model.
        parents = {}
        for table in PLAIN_TABLES:
            model = models[table]
            row = model.create(label=f"row of {table}")
            assert model.get_by_id(row.id).label == f"row of {table}"
            parents[table] = row
        values = {by_column[name].name: index for index, name in enumerate(COLUMNS)}
        values[by_column["owner_id"].name] = parents["a-b"]
        values[by_column["filter_id"].name] = parents["a_b"]
        row = cols.create(**values)
        back = cols.get_by_id(row.id)
        for index, name in enumerate(COLUMNS):
            assert getattr(back, by_column[name].name) == index, name
        assert back.said == SAID and back.made is not None, source
        assert getattr(back, by_column["owner_id"].name).label == "row of a-b"
        assert getattr(back, by_column["filter_id"].name).label == "row of a_b"
        raw = db.execute_sql(f"SELECT {db.dialect.quote('select')} FROM {db.dialect.quote('cols')}", ()).fetchall()
        assert [tuple(r) for r in raw] == [(COLUMNS.index("select"),)]
    finally:
        module.database.close_all()
