"""Trip planning: hotels, restaurants, transport and attractions under rating, budget and conditional constraints.

Level 0 asks for the cheapest well-rated hotel in one city (1 tool call); level 1 adds a restaurant and a total cost;
level 2 spans two cities and the transport between them; level 3 adds a conditional rule in the style of DeepSeek-V3.2's
example (an expensive hotel forces a better-rated restaurant) and an attraction per city.
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

CATEGORY = "trip_planning"
MAX_LEVEL = 3
CITIES = ["Lisbon", "Porto", "Madrid", "Seville", "Lyon", "Nice", "Turin", "Bologna", "Ghent", "Bruges", "Krakow",
          "Gdansk"]
CUISINES = ["italian", "seafood", "vegan", "tapas", "grill", "thai"]
MODES = ["train", "bus", "flight"]

TOOLS = [
    (tool("list_cities", "All cities in the travel database.", {}), '''
def list_cities(db):
    return [r[0] for r in db.execute("SELECT name FROM cities ORDER BY name")]
'''),
    (tool("search_hotels", "Hotels in a city with nightly price and rating.", {"city": {"type": "string"}}), '''
def search_hotels(db, city):
    if db.execute("SELECT 1 FROM cities WHERE name = ?", (city,)).fetchone() is None:
        raise ValueError("unknown city " + repr(city))
    rows = db.execute("SELECT hotel_id, name, price, rating FROM hotels WHERE city = ? ORDER BY hotel_id", (city,))
    return [{"hotel_id": r[0], "name": r[1], "price": r[2], "rating": r[3]} for r in rows]
'''),
    (tool("search_restaurants", "Restaurants in a city with average dinner cost and rating.",
          {"city": {"type": "string"}}), '''
def search_restaurants(db, city):
    if db.execute("SELECT 1 FROM cities WHERE name = ?", (city,)).fetchone() is None:
        raise ValueError("unknown city " + repr(city))
    rows = db.execute("SELECT restaurant_id, name, cuisine, avg_cost, rating FROM restaurants WHERE city = ? "
                      "ORDER BY restaurant_id", (city,))
    return [{"restaurant_id": r[0], "name": r[1], "cuisine": r[2], "avg_cost": r[3], "rating": r[4]} for r in rows]
'''),
    (tool("get_transport", "Ways to travel from one city to another, with prices.",
          {"from_city": {"type": "string"}, "to_city": {"type": "string"}}), '''
def get_transport(db, from_city, to_city):
    rows = db.execute("SELECT mode, price FROM transport WHERE from_city = ? AND to_city = ? ORDER BY mode",
                      (from_city, to_city)).fetchall()
    if not rows:
        raise ValueError("no transport from " + repr(from_city) + " to " + repr(to_city))
    return [{"mode": r[0], "price": r[1]} for r in rows]
'''),
    (tool("search_attractions", "Attractions in a city with ticket price and rating.",
          {"city": {"type": "string"}}), '''
def search_attractions(db, city):
    rows = db.execute("SELECT attraction_id, name, ticket, rating FROM attractions WHERE city = ? "
                      "ORDER BY attraction_id", (city,))
    return [{"attraction_id": r[0], "name": r[1], "ticket": r[2], "rating": r[3]} for r in rows]
'''),
]
TOOLS_AT_LEVEL = [2, 3, 4, 5]


def build_world(seed: int) -> dict[str, Any]:
    """Cities with hotels, restaurants, attractions and transport; deterministic in `seed`."""
    rng = unit_rng(CATEGORY, seed)
    cities = rng.sample(CITIES, 4)
    hotels, restaurants, attractions, transport = [], [], [], []
    for c, city in enumerate(cities):
        for i in range(6):
            hotels.append((f"H{c}{i}{rng.randint(0, 9)}", f"{city} Hotel {chr(65 + i)}", city, rng.randint(60, 400),
                           round(rng.uniform(2.5, 5.0), 1)))  # fmt: skip
        for i in range(5):
            restaurants.append((f"R{c}{i}{rng.randint(0, 9)}", f"{rng.choice(CUISINES).title()} {city} {i}", city,
                                rng.choice(CUISINES), rng.randint(12, 90),
                                round(rng.uniform(2.5, 5.0), 1)))
        for i in range(4):
            attractions.append((f"A{c}{i}{rng.randint(0, 9)}", f"{city} Sight {i}", city, rng.randint(0, 40),
                                round(rng.uniform(3.0, 5.0), 1)))  # fmt: skip
    for a in cities:
        for b in cities:
            if a != b:
                for mode in rng.sample(MODES, 2):
                    transport.append((a, b, mode, rng.randint(15, 220)))
    return {"cities": cities, "hotels": hotels, "restaurants": restaurants, "attractions": attractions,
            "transport": transport}


def environment(seed: int, level: int) -> EnvDraft:
    w = build_world(seed)
    sql = (table_sql("cities", "name TEXT PRIMARY KEY", [(c,) for c in w["cities"]])
           + table_sql("hotels", "hotel_id TEXT PRIMARY KEY, name TEXT, city TEXT, price INTEGER, rating REAL",
                       w["hotels"])
           + table_sql("restaurants", "restaurant_id TEXT PRIMARY KEY, name TEXT, city TEXT, cuisine TEXT, "
                       "avg_cost INTEGER, rating REAL", w["restaurants"])
           + table_sql("attractions", "attraction_id TEXT PRIMARY KEY, name TEXT, city TEXT, ticket INTEGER, "
                       "rating REAL", w["attractions"])
           + table_sql("transport", "from_city TEXT, to_city TEXT, mode TEXT, price INTEGER", w["transport"]))
    return env_draft(CATEGORY, seed, sql, TOOLS[: TOOLS_AT_LEVEL[level]])


def _cheapest(rows: list[tuple], city: str, min_rating: float, cost: int) -> tuple:
    ok = [r for r in rows if r[2] == city and r[-1] >= min_rating]
    return min(ok, key=lambda r: (r[cost], r[0]))


def _threshold(rng: Any, rows: list[tuple], city: str) -> float:
    return sorted(r[-1] for r in rows if r[2] == city)[rng.randint(1, 3)]


def task(seed: int, level: int) -> TaskDraft:
    """The task of `level` on the world of `seed`."""
    w = build_world(seed)
    rng = unit_rng(CATEGORY, seed, "task")
    a, b = w["cities"][0], w["cities"][1]
    rh, rr = _threshold(rng, w["hotels"], a), _threshold(rng, w["restaurants"], a)
    if level == 0:
        hotel = _cheapest(w["hotels"], a, rh, 3)
        return TaskDraft(
            prompt=f"Which hotel in {a} rated at least {rh} has the lowest nightly price? Break ties by the smaller "
                   "hotel_id.",
            answer_schema=object_schema({"hotel_id": "string"}),
            solution=solution_source({"city": a, "min_rating": rh}, SOLUTION_0),
            verifier=verifier_source({"hotel_id": hotel[0]}), level=0,
            knobs={"num_constraints": 1, "num_cities": 1, "num_tools": TOOLS_AT_LEVEL[0]})
    nights = rng.randint(2, 4)
    if level == 1:
        hotel, rest = _cheapest(w["hotels"], a, rh, 3), _cheapest(w["restaurants"], a, rr, 4)
        total = nights * (hotel[3] + rest[4])
        return TaskDraft(
            prompt=f"Plan {nights} nights in {a}: one hotel rated at least {rh} and dinner every night at one "
                   f"restaurant rated at least {rr}. Minimize the total cost (hotel price and the restaurant's "
                   "average cost per night, times the nights); break ties by the smaller id. Give the hotel, the "
                   "restaurant and the total cost.",
            answer_schema=object_schema({"hotel_id": "string", "restaurant_id": "string", "total_cost": "integer"}),
            solution=solution_source({"city": a, "nights": nights, "min_hotel": rh, "min_restaurant": rr},
                                     SOLUTION_1),
            verifier=verifier_source({"hotel_id": hotel[0], "restaurant_id": rest[0], "total_cost": total}),
            level=1, knobs={"num_constraints": 3, "num_cities": 1, "num_tools": TOOLS_AT_LEVEL[1]})
    nights_b = rng.randint(1, 3)
    rh_b, rr_b = _threshold(rng, w["hotels"], b), _threshold(rng, w["restaurants"], b)
    params = {"a": a, "b": b, "nights_a": nights, "nights_b": nights_b, "min_hotel_a": rh, "min_hotel_b": rh_b,
              "min_restaurant_a": rr, "min_restaurant_b": rr_b}
    transport = min((t for t in w["transport"] if t[0] == a and t[1] == b), key=lambda t: (t[3], t[2]))
    hotel_a, rest_a = _cheapest(w["hotels"], a, rh, 3), _cheapest(w["restaurants"], a, rr, 4)
    base = nights * (hotel_a[3] + rest_a[4]) + transport[3]
    schema = {"hotel_a": "string", "restaurant_a": "string", "hotel_b": "string", "restaurant_b": "string",
              "transport_mode": "string", "total_cost": "integer"}
    prompt = (f"Plan a trip: {nights} nights in {a}, then travel to {b} by the cheapest transport and stay "
              f"{nights_b} nights there. In {a} the hotel must be rated at least {rh} and the restaurant (dinner "
              f"every night at one restaurant) at least {rr}; in {b} the hotel at least {rh_b} and the restaurant at "
              f"least {rr_b}. Minimize the total cost (hotels and dinners per night, plus the transport); break "
              "ties by the smaller id.")
    if level == 2:
        hotel_b, rest_b = _cheapest(w["hotels"], b, rh_b, 3), _cheapest(w["restaurants"], b, rr_b, 4)
        total = base + nights_b * (hotel_b[3] + rest_b[4])
        expected = {"hotel_a": hotel_a[0], "restaurant_a": rest_a[0], "hotel_b": hotel_b[0],
                    "restaurant_b": rest_b[0], "transport_mode": transport[2], "total_cost": total}
        return TaskDraft(prompt=prompt, answer_schema=object_schema(schema),
                         solution=solution_source(params, SOLUTION_2), verifier=verifier_source(expected), level=2,
                         knobs={"num_constraints": 5, "num_cities": 2, "num_tools": TOOLS_AT_LEVEL[2]})  # fmt: skip
    pricey = sorted(h[3] for h in w["hotels"] if h[2] == b)[3]
    max_ticket = rng.randint(10, 30)
    params |= {"pricey": pricey, "strict_rating": 4.5, "max_ticket": max_ticket}
    pairs = [(h, r) for h in w["hotels"] if h[2] == b and h[4] >= rh_b
             for r in w["restaurants"] if r[2] == b and r[5] >= (4.5 if h[3] >= pricey else rr_b)]
    hotel_b, rest_b = min(pairs, key=lambda p: (p[0][3] + p[1][4], p[0][0], p[1][0]))
    sights = []
    for city in (a, b):
        ok = [s for s in w["attractions"] if s[2] == city and s[3] <= max_ticket] or [("none", "", city, 0, 0.0)]
        sights.append(min(ok, key=lambda s: (-s[4], s[3], s[0])))
    total = base + nights_b * (hotel_b[3] + rest_b[4]) + sights[0][3] + sights[1][3]
    expected = {"hotel_a": hotel_a[0], "restaurant_a": rest_a[0], "hotel_b": hotel_b[0], "restaurant_b": rest_b[0],
                "transport_mode": transport[2], "attraction_a": sights[0][0], "attraction_b": sights[1][0],
                "total_cost": total}
    return TaskDraft(
        prompt=prompt + f" Extra rule: if the hotel in {b} costs {pricey} or more per night, the restaurant in {b} "
               f"must be rated at least 4.5. Also visit, in each city, the highest-rated attraction with a ticket of "
               f"at most {max_ticket} (ties: cheaper ticket, then smaller id; 'none' if there is none) and add its "
               "ticket to the total.",
        answer_schema=object_schema(schema | {"attraction_a": "string", "attraction_b": "string"}),
        solution=solution_source(params, SOLUTION_3), verifier=verifier_source(expected), level=3,
        knobs={"num_constraints": 8, "num_cities": 2, "conditional": True, "num_tools": TOOLS_AT_LEVEL[3]})


SOLUTION_0 = '''
def solution(tools):
    hotels = [h for h in tools.search_hotels(city=P["city"]) if h["rating"] >= P["min_rating"]]
    best = min(hotels, key=lambda h: (h["price"], h["hotel_id"]))
    return {"hotel_id": best["hotel_id"]}
'''

SOLUTION_1 = '''
def solution(tools):
    hotels = [h for h in tools.search_hotels(city=P["city"]) if h["rating"] >= P["min_hotel"]]
    rests = [r for r in tools.search_restaurants(city=P["city"]) if r["rating"] >= P["min_restaurant"]]
    hotel = min(hotels, key=lambda h: (h["price"], h["hotel_id"]))
    rest = min(rests, key=lambda r: (r["avg_cost"], r["restaurant_id"]))
    total = P["nights"] * (hotel["price"] + rest["avg_cost"])
    return {"hotel_id": hotel["hotel_id"], "restaurant_id": rest["restaurant_id"], "total_cost": total}
'''

SOLUTION_2 = '''
def cheapest(tools, city, min_hotel, min_restaurant):
    hotels = [h for h in tools.search_hotels(city=city) if h["rating"] >= min_hotel]
    rests = [r for r in tools.search_restaurants(city=city) if r["rating"] >= min_restaurant]
    hotel = min(hotels, key=lambda h: (h["price"], h["hotel_id"]))
    rest = min(rests, key=lambda r: (r["avg_cost"], r["restaurant_id"]))
    return hotel, rest


def solution(tools):
    ha, ra = cheapest(tools, P["a"], P["min_hotel_a"], P["min_restaurant_a"])
    hb, rb = cheapest(tools, P["b"], P["min_hotel_b"], P["min_restaurant_b"])
    move = min(tools.get_transport(from_city=P["a"], to_city=P["b"]), key=lambda t: (t["price"], t["mode"]))
    total = P["nights_a"] * (ha["price"] + ra["avg_cost"]) + P["nights_b"] * (hb["price"] + rb["avg_cost"])
    return {"hotel_a": ha["hotel_id"], "restaurant_a": ra["restaurant_id"], "hotel_b": hb["hotel_id"],
            "restaurant_b": rb["restaurant_id"], "transport_mode": move["mode"], "total_cost": total + move["price"]}
'''

SOLUTION_3 = '''
def sight(tools, city):
    ok = [s for s in tools.search_attractions(city=city) if s["ticket"] <= P["max_ticket"]]
    if not ok:
        return {"attraction_id": "none", "ticket": 0}
    return min(ok, key=lambda s: (-s["rating"], s["ticket"], s["attraction_id"]))


def solution(tools):
    hotels_a = [h for h in tools.search_hotels(city=P["a"]) if h["rating"] >= P["min_hotel_a"]]
    rests_a = [r for r in tools.search_restaurants(city=P["a"]) if r["rating"] >= P["min_restaurant_a"]]
    ha = min(hotels_a, key=lambda h: (h["price"], h["hotel_id"]))
    ra = min(rests_a, key=lambda r: (r["avg_cost"], r["restaurant_id"]))
    hotels_b = [h for h in tools.search_hotels(city=P["b"]) if h["rating"] >= P["min_hotel_b"]]
    rests_b = tools.search_restaurants(city=P["b"])
    pairs = []
    for h in hotels_b:
        need = P["strict_rating"] if h["price"] >= P["pricey"] else P["min_restaurant_b"]
        pairs += [(h, r) for r in rests_b if r["rating"] >= need]
    hb, rb = min(pairs, key=lambda p: (p[0]["price"] + p[1]["avg_cost"], p[0]["hotel_id"], p[1]["restaurant_id"]))
    move = min(tools.get_transport(from_city=P["a"], to_city=P["b"]), key=lambda t: (t["price"], t["mode"]))
    sa, sb = sight(tools, P["a"]), sight(tools, P["b"])
    total = P["nights_a"] * (ha["price"] + ra["avg_cost"]) + P["nights_b"] * (hb["price"] + rb["avg_cost"])
    total += move["price"] + sa["ticket"] + sb["ticket"]
    return {"hotel_a": ha["hotel_id"], "restaurant_a": ra["restaurant_id"], "hotel_b": hb["hotel_id"],
            "restaurant_b": rb["restaurant_id"], "transport_mode": move["mode"], "attraction_a": sa["attraction_id"],
            "attraction_b": sb["attraction_id"], "total_cost": total}
'''
