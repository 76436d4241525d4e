"""Writes the builder-agent fixtures: a small corpus and the recorded transcripts (one assistant turn per line).

The transcripts are written as a capable model would act: search and open the corpus, store rows with their source,
write tools, a task, a solution and a verifier, repair after a failed check, raise the difficulty, finish. The bad
ones misbehave on purpose. Rerun after editing: ``python tests/synth/general/builder_fixtures/make_fixtures.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
BOOKS = [("dune", "Dune", "Frank Herbert", 1965, 18.5, "science fiction"),
         ("foundation", "Foundation", "Isaac Asimov", 1951, 12.0, "science fiction"),
         ("neuromancer", "Neuromancer", "William Gibson", 1984, 22.0, "science fiction"),
         ("hyperion", "Hyperion", "Dan Simmons", 1989, 16.0, "science fiction"),
         ("emma", "Emma", "Jane Austen", 1815, 9.5, "romance"),
         ("rebecca", "Rebecca", "Daphne du Maurier", 1938, 11.0, "romance")]
STATIONS = [("tromso", "Tromso", "Norway", 100, 2.9), ("roros", "Roros", "Norway", 628, 0.6),
            ("finse", "Finse", "Norway", 1222, -2.1), ("davos", "Davos", "Switzerland", 1560, 3.4),
            ("sion", "Sion", "Switzerland", 482, 10.1), ("zugspitze", "Zugspitze", "Germany", 2956, -4.8)]
RECIPES = [("risotto", "Mushroom Risotto", "Italian", 45, 520), ("carbonara", "Carbonara", "Italian", 25, 610),
           ("minestrone", "Minestrone", "Italian", 60, 310), ("ramen", "Shoyu Ramen", "Japanese", 90, 540),
           ("tamagoyaki", "Tamagoyaki", "Japanese", 15, 190), ("ratatouille", "Ratatouille", "French", 70, 280)]


def write_corpus() -> None:
    for slug, title, author, year, price, genre in BOOKS:
        _doc(f"books/{slug}.txt", f"{title}\n{title} is a {genre} novel by {author}, first published in {year}. "
                                  f"The shop sells the paperback for {price:.2f} dollars.\n")
    for slug, name, country, elevation, temp in STATIONS:
        _doc(f"stations/{slug}.txt", f"{name} weather station\nThe station at {name} ({country}) lies at {elevation} m "
                                     f"above sea level. Its mean annual temperature is {temp} degrees Celsius.\n")
    for slug, name, cuisine, minutes, kcal in RECIPES:
        _doc(f"recipes/{slug}.txt", f"{name}\nA {cuisine} dish. Preparation takes {minutes} minutes; one serving "
                                    f"has {kcal} kcal.\n")


def _doc(rel: str, text: str) -> None:
    path = HERE / "corpus" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def call(name: str, say: str = "", **arguments: object) -> dict:
    return {"content": say, "tool_calls": [{"name": name, "arguments": arguments}]}


def spec(tool_name: str, description: str, **props: str) -> dict:
    return {"name": tool_name, "description": description, "kind": "read",
            "parameters": {"type": "object", "properties": {k: {"type": v} for k, v in props.items()},
                           "required": list(props)}}


def files(task: dict, solution: str, verifier: str) -> list[dict]:
    return [call("write_file", path="task.json", content=json.dumps(task)),
            call("write_file", path="solution.py", content=solution),
            call("write_file", path="verifier.py", content=verifier)]


def exact(field: str, value: object) -> str:
    return (f"def verify(answer, db):\n    if not isinstance(answer, dict):\n        return False, ['not an object']\n"
            f"    got = answer.get({field!r})\n    ok = got == {value!r}\n    return ok, [f'{field} is {{got!r}}']\n")


def schema(field: str, kind: str) -> dict:
    return {"type": "object", "properties": {field: {"type": kind}}, "required": [field], "additionalProperties": False}


# --- bookstore: a repair after a wrong first solution, then one escalation ---------------------------------------------
BOOK_TOOLS = ("def find_books(db, genre):\n    rows = db.execute('SELECT title FROM books WHERE genre = ? ORDER BY title', "
              "(genre,)).fetchall()\n    if not rows:\n        raise ValueError(f'no books of genre {genre!r}')\n"
              "    return [r[0] for r in rows]\n\n\n"
              "def book_info(db, title):\n    row = db.execute('SELECT author, year, price FROM books WHERE title = ?', "
              "(title,)).fetchone()\n    if row is None:\n        raise KeyError(f'no book {title!r}')\n"
              "    return {'author': row[0], 'year': row[1], 'price': row[2]}\n")
BOOK_SPECS = [spec("find_books", "Titles of the books of a genre.", genre="string"),
              spec("book_info", "Author, year and price of a book.", title="string")]
BOOK_SQL = "CREATE TABLE books (title TEXT PRIMARY KEY, author TEXT, year INTEGER, price REAL, genre TEXT, _source TEXT);\n" + \
    "\n".join(f"INSERT INTO books VALUES ({t!r}, {a!r}, {y}, {p}, {g!r}, 'books/{s}.txt');" for s, t, a, y, p, g in BOOKS)
EARLIEST = ("def solution(tools):\n    titles = tools.find_books(genre='science fiction')\n"
            "    years = {{t: tools.book_info(title=t)['year'] for t in titles}}\n"
            "    return {{'title': {pick}(titles, key=lambda t: years[t])}}\n")
CHEAP_PRICEY = ("def solution(tools):\n    best = None\n    for t in tools.find_books(genre='science fiction'):\n"
                "        info = tools.book_info(title=t)\n        if info['price'] < 20 and (best is None or "
                "info['price'] > best['price']):\n            best = info\n    return {'author': best['author']}\n")
BOOKSTORE = [
    call("search", "First I look for books in the corpus.", query="science fiction novel paperback", k=10),
    call("open", doc_id="books/dune.txt"),
    call("sql", "I store every book with its source document.", statements=BOOK_SQL),
    call("sql", statements="SELECT title, genre, _source FROM books;"),
    call("write_file", path="tools.py", content=BOOK_TOOLS),
    call("write_file", path="tools.json", content=json.dumps(BOOK_SPECS)),
    *files({"prompt": "Which science fiction novel in the shop's catalogue was published first? Give its title.",
            "answer_schema": schema("title", "string"), "verifier_kind": "answer"},
           EARLIEST.format(pick="max"), exact("title", "Foundation")),
    call("check"),
    call("write_file", "The solution took the latest year; it must take the earliest.", path="solution.py",
         content=EARLIEST.format(pick="min")),
    call("check"),
    *files({"prompt": "Among the science fiction paperbacks that cost less than 20 dollars, who wrote the most "
                      "expensive one? Give the author's name.", "answer_schema": schema("author", "string"),
            "verifier_kind": "answer", "knobs": {"constraints": 2}},
           CHEAP_PRICEY, exact("author", "Frank Herbert")),
    call("check"),
    call("finish"),
]

# --- weather stations: escalation adds a tool -------------------------------------------------------------------------
STATION_TOOLS = ("def list_stations(db, country):\n    rows = db.execute('SELECT name FROM stations WHERE country = ? "
                 "ORDER BY name', (country,)).fetchall()\n    if not rows:\n        raise ValueError(f'no stations "
                 "in {country!r}')\n    return [r[0] for r in rows]\n\n\n"
                 "def station_climate(db, name):\n    row = db.execute('SELECT elevation_m, mean_temp_c FROM stations "
                 "WHERE name = ?', (name,)).fetchone()\n    if row is None:\n        raise KeyError(f'no station "
                 "{name!r}')\n    return {'elevation_m': row[0], 'mean_temp_c': row[1]}\n")
STATION_EXTRA = ("\n\ndef stations_above(db, min_elevation_m):\n    rows = db.execute('SELECT name, country FROM stations "
                 "WHERE elevation_m > ? ORDER BY name', (min_elevation_m,)).fetchall()\n"
                 "    return [{'name': r[0], 'country': r[1]} for r in rows]\n")
STATION_SPECS = [spec("list_stations", "Station names of a country.", country="string"),
                 spec("station_climate", "Elevation and mean temperature of a station.", name="string")]
STATION_SQL = ("CREATE TABLE stations (name TEXT PRIMARY KEY, country TEXT, elevation_m INTEGER, mean_temp_c REAL, "
               "_source TEXT);\n" + "\n".join(f"INSERT INTO stations VALUES ({n!r}, {c!r}, {e}, {t}, 'stations/{s}.txt');"
                                             for s, n, c, e, t in STATIONS))
COLDEST = ("def solution(tools):\n    names = tools.list_stations(country='Norway')\n"
           "    temps = {n: tools.station_climate(name=n)['mean_temp_c'] for n in names}\n"
           "    return {'station': min(names, key=lambda n: temps[n])}\n")
HIGH_WARM = ("def solution(tools):\n    high = tools.stations_above(min_elevation_m=1000)\n"
             "    temps = {s['name']: tools.station_climate(name=s['name'])['mean_temp_c'] for s in high}\n"
             "    warmest = max(high, key=lambda s: temps[s['name']])\n    return {'country': warmest['country']}\n")
STATIONS_T = [
    call("search", query="weather station mean annual temperature"),
    call("open", doc_id="stations/finse.txt"),
    call("sql", statements=STATION_SQL),
    call("write_file", path="tools.py", content=STATION_TOOLS),
    call("write_file", path="tools.json", content=json.dumps(STATION_SPECS)),
    *files({"prompt": "Which Norwegian weather station has the coldest mean annual temperature? Name it.",
            "answer_schema": schema("station", "string")}, COLDEST, exact("station", "Finse")),
    call("check"),
    call("write_file", "A harder task needs a search by elevation: I add a tool.", path="tools.py",
         content=STATION_TOOLS + STATION_EXTRA),
    call("write_file", path="tools.json", content=json.dumps(
        STATION_SPECS + [spec("stations_above", "Stations above an elevation, with their country.",
                              min_elevation_m="integer")])),
    *files({"prompt": "Of the stations higher than 1000 m, take the one with the warmest mean annual temperature. "
                      "In which country is it?", "answer_schema": schema("country", "string"),
            "knobs": {"hops": 2, "tools_added": ["stations_above"]}}, HIGH_WARM, exact("country", "Switzerland")),
    call("check"),
    call("finish"),
]

# --- recipes: a numeric answer ----------------------------------------------------------------------------------------
RECIPE_TOOLS = ("def recipes_by_cuisine(db, cuisine):\n    rows = db.execute('SELECT name FROM recipes WHERE cuisine = ? "
                "ORDER BY name', (cuisine,)).fetchall()\n    if not rows:\n        raise ValueError(f'no {cuisine!r} "
                "recipes')\n    return [r[0] for r in rows]\n\n\n"
                "def recipe_facts(db, name):\n    row = db.execute('SELECT minutes, kcal FROM recipes WHERE name = ?', "
                "(name,)).fetchone()\n    if row is None:\n        raise KeyError(f'no recipe {name!r}')\n"
                "    return {'minutes': row[0], 'kcal': row[1]}\n")
RECIPE_SPECS = [spec("recipes_by_cuisine", "Recipe names of a cuisine.", cuisine="string"),
                spec("recipe_facts", "Preparation minutes and kcal per serving of a recipe.", name="string")]
RECIPE_SQL = ("CREATE TABLE recipes (name TEXT PRIMARY KEY, cuisine TEXT, minutes INTEGER, kcal INTEGER, _source TEXT);\n"
              + "\n".join(f"INSERT INTO recipes VALUES ({n!r}, {c!r}, {m}, {k}, 'recipes/{s}.txt');"
                          for s, n, c, m, k in RECIPES))
TOTAL = ("def solution(tools):\n    names = tools.recipes_by_cuisine(cuisine='Italian')\n"
         "    return {'minutes': sum(tools.recipe_facts(name=n)['minutes'] for n in names)}\n")
RECIPES_T = [
    call("search", query="Italian dish preparation minutes kcal"),
    call("sql", statements=RECIPE_SQL),
    call("write_file", path="tools.py", content=RECIPE_TOOLS),
    call("write_file", path="tools.json", content=json.dumps(RECIPE_SPECS)),
    *files({"prompt": "How many minutes does it take to prepare every Italian recipe of the collection, one after "
                      "the other?", "answer_schema": schema("minutes", "integer")}, TOTAL, exact("minutes", 130)),
    call("check"),
    call("finish"),
]

# --- bad behaviour ----------------------------------------------------------------------------------------------------
DB_FILE_TOOLS = ("import sqlite3\n\n\ndef find_books(db, genre):\n    own = sqlite3.connect('db.sqlite')\n"
                 "    return [r[0] for r in own.execute('SELECT title FROM books WHERE genre = ?', (genre,))]\n\n\n"
                 + BOOK_TOOLS.split("\n\n\n", 1)[1])
BAD_DB_FILE = [call("sql", statements=BOOK_SQL), call("write_file", path="tools.py", content=DB_FILE_TOOLS),
               call("write_file", path="tools.json", content=json.dumps(BOOK_SPECS)),
               *files({"prompt": "Which science fiction novel in the shop's catalogue was published first?",
                       "answer_schema": schema("title", "string")}, EARLIEST.format(pick="min"),
                      exact("title", "Foundation")),
               call("check"), call("finish")]
ANYTHING = "def verify(answer, db):\n    return True, ['looks fine']\n"
BAD_VERIFIER = [call("sql", statements=BOOK_SQL), call("write_file", path="tools.py", content=BOOK_TOOLS),
                call("write_file", path="tools.json", content=json.dumps(BOOK_SPECS)),
                *files({"prompt": "Which science fiction novel in the shop's catalogue was published first?",
                        "answer_schema": schema("title", "string")}, EARLIEST.format(pick="min"), ANYTHING),
                call("check"), call("check"), call("check")]
HIDDEN = BOOK_TOOLS + "\n\ndef oldest_title(db, genre):\n    return db.execute('SELECT title FROM books WHERE genre = ? " \
                      "ORDER BY year LIMIT 1', (genre,)).fetchone()[0]\n"
NON_TOOL = ("def solution(tools):\n    titles = tools.find_books(genre='science fiction')\n"
            "    first = dict.fromkeys(titles)\n    return {'title': tools.oldest_title(genre='science fiction')}\n")
BAD_SOLUTION = [call("sql", statements=BOOK_SQL), call("write_file", path="tools.py", content=HIDDEN),
                call("write_file", path="tools.json", content=json.dumps(BOOK_SPECS)),
                *files({"prompt": "Which science fiction novel in the shop's catalogue was published first?",
                        "answer_schema": schema("title", "string")}, NON_TOOL, exact("title", "Foundation")),
                call("check"), call("check")]
NEVER = [call("search", query="science fiction"), call("open", doc_id="books/dune.txt"),
         call("bash", command="ls -la"), call("search", query="novel price"), call("open", doc_id="books/emma.txt"),
         call("python", code="print('thinking')"), call("search", query="romance"), call("bash", command="echo more")]

TRANSCRIPTS = {"bookstore": BOOKSTORE, "weather stations": STATIONS_T, "recipes": RECIPES_T,
               "bad db file": BAD_DB_FILE, "bad verifier": BAD_VERIFIER, "bad solution": BAD_SOLUTION,
               "never converges": NEVER}


def main() -> None:
    write_corpus()
    for category, turns in TRANSCRIPTS.items():
        path = HERE / f"{category.replace(' ', '_')}.jsonl"
        path.write_text("".join(json.dumps(t) + "\n" for t in turns), encoding="utf-8")


if __name__ == "__main__":
    main()
