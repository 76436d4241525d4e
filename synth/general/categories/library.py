"""Library catalog: books, authors and loans; the top level checks a book out (a DB change).

Level 0 finds the oldest book of a genre (1 call); level 1 joins authors' countries; level 2 adds availability (copies
minus active loans) and a year bound; level 3 checks the chosen book out for a member, checked on the final DB.
"""

from __future__ import annotations

from typing import Any

from agentgym.synth.general.categories.common import (
    env_draft,
    object_schema,
    solution_source,
    table_sql,
    tool,
    unit_rng,  # fmt: skip
    verifier_source,
)
from agentgym.synth.general.drafts import EnvDraft, TaskDraft

CATEGORY = "library"
MAX_LEVEL = 3
GENRES = ["mystery", "poetry", "history", "science", "fantasy", "travel"]
COUNTRIES = ["Chile", "Kenya", "Norway", "Japan", "Peru", "Ireland"]
WORDS = ["Silent", "Red", "Last", "Hidden", "Paper", "Winter", "Glass", "River", "Iron", "Quiet", "Salt", "Night"]
LOANS_QUERY = "SELECT book_id, member_id, returned FROM loans WHERE loan_id > 1000 ORDER BY book_id"

TOOLS = [
    (tool("search_books", "Books of a genre with author id and year.", {"genre": {"type": "string"}}), '''
def search_books(db, genre):
    rows = db.execute("SELECT book_id, title, author_id, year FROM books WHERE genre = ? ORDER BY book_id",
                      (genre,)).fetchall()
    if not rows:
        raise ValueError("unknown genre " + repr(genre))
    return [{"book_id": r[0], "title": r[1], "author_id": r[2], "year": r[3]} for r in rows]
'''),
    (tool("get_author", "An author's name and country.", {"author_id": {"type": "string"}}), '''
def get_author(db, author_id):
    r = db.execute("SELECT author_id, name, country FROM authors WHERE author_id = ?", (author_id,)).fetchone()
    if r is None:
        raise KeyError("unknown author " + repr(author_id))
    return {"author_id": r[0], "name": r[1], "country": r[2]}
'''),
    (tool("get_availability", "A book's number of copies and of copies currently on loan.",
          {"book_id": {"type": "string"}}), '''
def get_availability(db, book_id):
    r = db.execute("SELECT copies FROM books WHERE book_id = ?", (book_id,)).fetchone()
    if r is None:
        raise KeyError("unknown book " + repr(book_id))
    out = db.execute("SELECT COUNT(*) FROM loans WHERE book_id = ? AND returned = 0", (book_id,)).fetchone()[0]
    return {"book_id": book_id, "copies": r[0], "on_loan": out}
'''),
    (tool("checkout", "Lend a copy of a book to a member.",
          {"book_id": {"type": "string"}, "member_id": {"type": "string"}}, kind="write"), '''
def checkout(db, book_id, member_id):
    r = db.execute("SELECT copies FROM books WHERE book_id = ?", (book_id,)).fetchone()
    if r is None:
        raise KeyError("unknown book " + repr(book_id))
    out = db.execute("SELECT COUNT(*) FROM loans WHERE book_id = ? AND returned = 0", (book_id,)).fetchone()[0]
    if out >= r[0]:
        raise ValueError("no copy of " + repr(book_id) + " is available")
    loan = db.execute("SELECT MAX(loan_id) FROM loans").fetchone()[0]
    db.execute("INSERT INTO loans VALUES (?, ?, ?, 0)", (max(loan or 0, 1000) + 1, book_id, member_id))
    return {"loan_id": max(loan or 0, 1000) + 1}
'''),
]
TOOLS_AT_LEVEL = [1, 2, 3, 4]


def build_world(seed: int) -> dict[str, Any]:
    rng = unit_rng(CATEGORY, seed)
    authors = [(f"AU{i}{rng.randint(0, 9)}", f"Author {chr(65 + i)}{rng.randint(1, 99)}", rng.choice(COUNTRIES[:3]))
               for i in range(8)]  # fmt: skip
    genres = rng.sample(GENRES, 3)
    books, loans = [], []
    for g, genre in enumerate(genres):
        for i in range(7):
            book_id = f"B{g}{i}{rng.randint(0, 9)}"
            copies = rng.randint(1, 4)
            books.append((book_id, f"The {rng.choice(WORDS)} {rng.choice(WORDS)}", rng.choice(authors)[0],
                          rng.randint(1950, 2023), genre, copies))  # fmt: skip
            for _ in range(rng.randint(0, copies)):
                loans.append((len(loans) + 1, book_id, f"M{rng.randint(10, 99)}", int(rng.random() < 0.3)))
    return {"authors": authors, "books": books, "loans": loans, "genres": genres}


def environment(seed: int, level: int) -> EnvDraft:
    w = build_world(seed)
    sql = (table_sql("authors", "author_id TEXT PRIMARY KEY, name TEXT, country TEXT", w["authors"])
           + table_sql("books", "book_id TEXT PRIMARY KEY, title TEXT, author_id TEXT, year INTEGER, genre TEXT, "
                       "copies INTEGER", w["books"])
           + table_sql("loans", "loan_id INTEGER PRIMARY KEY, book_id TEXT, member_id TEXT, returned INTEGER",
                       w["loans"]))
    return env_draft(CATEGORY, seed, sql, TOOLS[: TOOLS_AT_LEVEL[level]])


def task(seed: int, level: int) -> TaskDraft:
    w = build_world(seed)
    rng = unit_rng(CATEGORY, seed, "task")
    genre = w["genres"][0]
    books = [b for b in w["books"] if b[4] == genre]
    country = {a[0]: a[2] for a in w["authors"]}
    knobs = {"num_tools": TOOLS_AT_LEVEL[level]}
    after = sorted(b[3] for b in books)[rng.randint(0, 3)] - 1
    if level == 0:
        oldest = min((b for b in books if b[3] > after), key=lambda b: (b[3], b[0]))
        return TaskDraft(prompt=f"Which {genre} book published after {after} is the oldest? Break ties by the "
                                "smaller book id.",
                         answer_schema=object_schema({"book_id": "string"}),
                         solution=solution_source({"genre": genre, "after": after}, SOLUTION_0),
                         verifier=verifier_source({"book_id": oldest[0]}), level=0, knobs=knobs | {"num_hops": 1})
    where = country[rng.choice([b for b in books if b[3] > after])[2]]
    ok = [b for b in books if country[b[2]] == where and b[3] > after]
    if level == 1:
        newest = max(ok, key=lambda b: (b[3], b[0]))
        return TaskDraft(prompt=f"How many {genre} books published after {after} are by authors from {where}, and "
                                "which of them is the newest (ties: the larger book id)?",
                         answer_schema=object_schema({"count": "integer", "newest_book_id": "string"}),
                         solution=solution_source({"genre": genre, "country": where, "after": after}, SOLUTION_1),
                         verifier=verifier_source({"count": len(ok), "newest_book_id": newest[0]}), level=1,
                         knobs=knobs | {"num_hops": 2, "num_constraints": 1})
    since = sorted(b[3] for b in ok)[0] - 1
    on_loan = {b[0]: sum(1 for loan in w["loans"] if loan[1] == b[0] and loan[3] == 0) for b in books}
    free = [(b[5] - on_loan[b[0]], b[0]) for b in ok if b[3] > since and b[5] - on_loan[b[0]] > 0]
    best = min(free, key=lambda f: (-f[0], f[1])) if free else (0, "none")
    params = {"genre": genre, "country": where, "since": since}
    prompt = (f"Among {genre} books by authors from {where} published after {since}, which has the most copies "
              "available right now (copies minus copies on loan; ties: smaller book id)? Answer 'none' and 0 if no "
              "such book has a copy available.")
    expected = {"book_id": best[1], "available": best[0]}
    schema = object_schema({"book_id": "string", "available": "integer"})
    if level == 2:
        return TaskDraft(prompt=prompt, answer_schema=schema, solution=solution_source(params, SOLUTION_2),
                         verifier=verifier_source(expected), level=2,
                         knobs=knobs | {"num_hops": 3, "num_constraints": 3})
    member = f"M{rng.randint(100, 999)}"
    rows = [] if best[1] == "none" else [[best[1], member, 0]]
    return TaskDraft(prompt=prompt + f" Then check that book out for member {member} and report the availability "
                                     "before the checkout.",
                     answer_schema=schema, solution=solution_source(params | {"member": member}, SOLUTION_2 + CHECKOUT),
                     verifier=verifier_source(expected, state_query=LOANS_QUERY, expected_rows=rows),
                     verifier_kind="both", level=3, knobs=knobs | {"num_hops": 4, "num_constraints": 3, "writes": True})


SOLUTION_0 = '''
def solution(tools):
    books = [b for b in tools.search_books(genre=P["genre"]) if b["year"] > P["after"]]
    return {"book_id": min(books, key=lambda b: (b["year"], b["book_id"]))["book_id"]}
'''

SOLUTION_1 = '''
def solution(tools):
    countries = {}
    ok = []
    for b in tools.search_books(genre=P["genre"]):
        if b["author_id"] not in countries:
            countries[b["author_id"]] = tools.get_author(author_id=b["author_id"])["country"]
        if countries[b["author_id"]] == P["country"] and b["year"] > P["after"]:
            ok.append(b)
    newest = max(ok, key=lambda b: (b["year"], b["book_id"]))
    return {"count": len(ok), "newest_book_id": newest["book_id"]}
'''

SOLUTION_2 = '''
def pick(tools):
    countries = {}
    free = []
    for b in tools.search_books(genre=P["genre"]):
        if b["author_id"] not in countries:
            countries[b["author_id"]] = tools.get_author(author_id=b["author_id"])["country"]
        if countries[b["author_id"]] == P["country"] and b["year"] > P["since"]:
            a = tools.get_availability(book_id=b["book_id"])
            if a["copies"] - a["on_loan"] > 0:
                free.append((a["copies"] - a["on_loan"], b["book_id"]))
    if not free:
        return "none", 0
    best = min(free, key=lambda f: (-f[0], f[1]))
    return best[1], best[0]


def solution(tools):
    book, available = pick(tools)
    return {"book_id": book, "available": available}
'''

CHECKOUT = '''

def solution(tools):
    book, available = pick(tools)
    if book != "none":
        tools.checkout(book_id=book, member_id=P["member"])
    return {"book_id": book, "available": available}
'''
