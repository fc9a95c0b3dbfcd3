"""Families of hostile identifier-like text, and a recorder proving no SQL was sent.

Each family crosses a few valid words (what a careless caller starts from) with fragments an
attacker appends, prepends or embeds: quotes of every engine, statement separators,
comments, NUL and control characters, Unicode look-alikes, placeholders and very long text.
"""

import contextlib

# Fragments that break out of, or end, an SQL context on some engine.
FRAGMENTS = [
    "'",
    '"',
    "`",
    ";",
    "; DROP TABLE secret; --",
    "--",
    "-- comment",
    "/*",
    "*/",
    "/**/",
    "#",
    "\x00",
    "\n",
    "\r\n",
    "\t",
    "\x0b",
    ")",
    "(",
    "()",
    ",",
    " OR 1=1",
    "' OR '1'='1",
    ") AS x, (SELECT secret FROM secret) AS y, CAST(1 AS INTEGER",
    " UNION SELECT secret FROM secret",
    "%s",
    "%",
    "%%",
    "?",
    "\\",
    "\\'",
    "$1",
    "$$",
    ":name",
    "\u037e",  # Greek question mark, looks like ";"
    "\uff07",  # fullwidth apostrophe
    "\u2019",  # right single quotation mark
    "\u02bc",  # modifier letter apostrophe
    "\u2010",  # hyphen, looks like "-"
    "\u200b",  # zero-width space
    "\u00a0",  # no-break space
    "\ufeff",  # byte order mark
    "x" * 300,
]

# Look-alikes of valid words: Cyrillic/Greek letters, dotless i, fullwidth forms.
HOMOGLYPHS = {
    "INTEGER": ["\u0406NTEGER", "\u0399NTEGER", "INT\u0395GER", "\u0131nteger", "\uff29NTEGER"],
    "TEXT": ["\u0422EXT", "T\u0415XT", "\u03a4EXT", "TEX\u0422"],
    "INNER JOIN": ["\u0406NNER JOIN", "INNER\u00a0JOIN", "\u0131nner join", "INNER JO\u0406N"],
    "LEFT OUTER JOIN": ["L\u0415FT OUTER JOIN", "LEFT OUTER JOIN\u200b", "\u217cEFT OUTER JOIN"],
}


def family(words, extra=()):
    """Every word with every fragment appended, prepended and embedded, plus look-alikes."""
    cases = []
    for word in words:
        for fragment in FRAGMENTS:
            cases.append(word + fragment)
            cases.append(fragment + word)
            middle = len(word) // 2
            cases.append(word[:middle] + fragment + word[middle:])
        cases.extend(HOMOGLYPHS.get(word, ()))
        cases.append(word * 200)
    seen = set()
    return [case for case in cases if not (case in seen or seen.add(case))] + list(extra)


@contextlib.contextmanager
def no_sql_sent(database):
    """Fail if anything reaches ``database.execute_sql`` inside the block."""
    sent = []
    original = database.execute_sql

    def recording(sql, params=None, *args, **kwargs):
        sent.append(sql)
        return original(sql, params, *args, **kwargs)

    database.execute_sql = recording
    try:
        yield sent
    finally:
        del database.execute_sql
    assert not sent, f"SQL was sent: {sent}"
