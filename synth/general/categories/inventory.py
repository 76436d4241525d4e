"""Inventory and ordering: products, suppliers and purchase orders; the upper levels change the DB (orders).

Level 0 finds the lowest-stock product of a category (1 call); level 1 joins supplier lead times; level 2 places
restocking orders (checked on the final DB); level 3 restocks two categories under a supplier-rating rule and a budget.
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

CATEGORY = "inventory"
MAX_LEVEL = 3
GROUPS = ["tools", "garden", "kitchen", "office", "toys", "sports", "bath"]
ORDERS_QUERY = "SELECT sku, quantity FROM orders ORDER BY sku"

TOOLS = [
    (tool("list_products", "Products of a category with price, stock, reorder level and supplier.",
          {"category": {"type": "string"}}), '''
def list_products(db, category):
    rows = db.execute("SELECT sku, name, price, stock, reorder_level, supplier_id FROM products WHERE category = ? "
                      "ORDER BY sku", (category,)).fetchall()
    if not rows:
        raise ValueError("unknown category " + repr(category))
    return [{"sku": r[0], "name": r[1], "price": r[2], "stock": r[3], "reorder_level": r[4], "supplier_id": r[5]}
            for r in rows]
'''),
    (tool("get_supplier", "A supplier's name, lead time in days and rating.", {"supplier_id": {"type": "string"}}), '''
def get_supplier(db, supplier_id):
    r = db.execute("SELECT supplier_id, name, lead_days, rating FROM suppliers WHERE supplier_id = ?",
                   (supplier_id,)).fetchone()
    if r is None:
        raise KeyError("unknown supplier " + repr(supplier_id))
    return {"supplier_id": r[0], "name": r[1], "lead_days": r[2], "rating": r[3]}
'''),
    (tool("place_order", "Order `quantity` units of a product; returns the order id and its cost.",
          {"sku": {"type": "string"}, "quantity": {"type": "integer"}}, kind="write"), '''
def place_order(db, sku, quantity):
    r = db.execute("SELECT price FROM products WHERE sku = ?", (sku,)).fetchone()
    if r is None:
        raise KeyError("unknown sku " + repr(sku))
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    cur = db.execute("INSERT INTO orders (sku, quantity, cost) VALUES (?, ?, ?)", (sku, quantity, r[0] * quantity))
    return {"order_id": cur.lastrowid, "cost": r[0] * quantity}
'''),
    (tool("list_orders", "All purchase orders placed so far.", {}), '''
def list_orders(db):
    rows = db.execute("SELECT order_id, sku, quantity, cost FROM orders ORDER BY order_id")
    return [{"order_id": r[0], "sku": r[1], "quantity": r[2], "cost": r[3]} for r in rows]
'''),
]
TOOLS_AT_LEVEL = [1, 2, 4, 4]


def build_world(seed: int) -> dict[str, Any]:
    rng = unit_rng(CATEGORY, seed)
    groups = rng.sample(GROUPS, 3)
    suppliers = [(f"S{i}{rng.randint(0, 9)}", f"Supplier {chr(65 + i)}", rng.randint(1, 10),
                  round(rng.uniform(2.5, 5.0), 1)) for i in range(4)]  # fmt: skip
    products = []
    for g, group in enumerate(groups):
        for i in range(6):
            reorder = rng.randint(10, 40)
            stock = rng.randint(0, reorder - 1) if i < 2 else rng.randint(0, 60)
            products.append((f"P{g}{i}{rng.randint(0, 9)}", f"{group.title()} item {i}", group, rng.randint(2, 120),
                             stock, reorder, rng.choice(suppliers)[0]))  # fmt: skip
    return {"groups": groups, "suppliers": suppliers, "products": products}


def environment(seed: int, level: int) -> EnvDraft:
    w = build_world(seed)
    sql = (table_sql("suppliers", "supplier_id TEXT PRIMARY KEY, name TEXT, lead_days INTEGER, rating REAL",
                     w["suppliers"])
           + table_sql("products", "sku TEXT PRIMARY KEY, name TEXT, category TEXT, price INTEGER, stock INTEGER, "
                       "reorder_level INTEGER, supplier_id TEXT", w["products"])
           + ["CREATE TABLE orders (order_id INTEGER PRIMARY KEY, sku TEXT, quantity INTEGER, cost INTEGER)"])
    return env_draft(CATEGORY, seed, sql, TOOLS[: TOOLS_AT_LEVEL[level]])


def task(seed: int, level: int) -> TaskDraft:
    w = build_world(seed)
    rng = unit_rng(CATEGORY, seed, "task")
    group = w["groups"][0]
    items = [p for p in w["products"] if p[2] == group]
    supplier = {s[0]: s for s in w["suppliers"]}
    knobs = {"num_tools": TOOLS_AT_LEVEL[level]}
    min_price = sorted(p[3] for p in items)[rng.randint(0, 2)]
    if level == 0:
        low = min((p for p in items if p[3] >= min_price), key=lambda p: (p[4], p[0]))
        return TaskDraft(prompt=f"Which product in the {group} category priced at {min_price} or more has the lowest "
                                "stock? Break ties by the smaller sku.",
                         answer_schema=object_schema({"sku": "string"}),
                         solution=solution_source({"category": group, "min_price": min_price}, SOLUTION_0),
                         verifier=verifier_source({"sku": low[0]}), level=0, knobs=knobs | {"num_constraints": 1})
    if level == 1:
        pick = rng.choice([p for p in items if p[3] >= min_price])
        max_lead = supplier[pick[6]][2]
        ok = [p for p in items if supplier[p[6]][2] <= max_lead and p[3] >= min_price]
        best = min(ok, key=lambda p: (-(p[5] - p[4]), p[0]))
        return TaskDraft(prompt=f"Among {group} products priced at {min_price} or more whose supplier delivers "
                                f"within {max_lead} days, which has the largest shortfall (reorder level minus "
                                "stock)? Break ties by the smaller sku. Give the sku and its supplier id.",
                         answer_schema=object_schema({"sku": "string", "supplier_id": "string"}),
                         solution=solution_source({"category": group, "max_lead": max_lead, "min_price": min_price},
                                                  SOLUTION_1),
                         verifier=verifier_source({"sku": best[0], "supplier_id": best[6]}), level=1,
                         knobs=knobs | {"num_constraints": 2, "num_hops": 2})  # fmt: skip
    if level == 2:
        target = rng.choice([2, 3])
        orders = [(p[0], target * p[5] - p[4], p[3]) for p in items if p[4] < p[5]]
        expected = {"num_orders": len(orders), "total_cost": sum(q * price for _, q, price in orders)}
        return TaskDraft(prompt=f"Restock the {group} category: for every product whose stock is below its reorder "
                                f"level, place one order that brings its stock up to {target} times its reorder "
                                "level. Answer with the number of orders and their total cost.",
                         answer_schema=object_schema({"num_orders": "integer", "total_cost": "integer"}),
                         solution=solution_source({"category": group, "target": target}, SOLUTION_2),
                         verifier=verifier_source(expected, state_query=ORDERS_QUERY,
                                                  expected_rows=sorted([s, q] for s, q, _ in orders)),
                         verifier_kind="both", level=2, knobs=knobs | {"num_constraints": 2, "writes": True})
    groups = w["groups"][:2]
    min_rating = sorted(s[3] for s in w["suppliers"])[1]
    budget = rng.randint(300, 1500)
    low = [p for p in w["products"] if p[2] in groups and p[4] < p[5] and supplier[p[6]][3] >= min_rating]
    placed, left = [], budget
    for p in sorted(low, key=lambda p: (-(p[5] - p[4]), p[0])):
        cost = (2 * p[5] - p[4]) * p[3]
        if cost <= left:
            placed.append([p[0], 2 * p[5] - p[4]])
            left -= cost
    return TaskDraft(prompt=f"Restock the {groups[0]} and {groups[1]} categories with a total budget of {budget}. "
                            f"Only products below their reorder level whose supplier is rated at least {min_rating} "
                            "qualify; each order brings stock up to twice the reorder level. Handle them in order of "
                            "decreasing shortfall (ties: smaller sku) and skip any order that would exceed the "
                            "remaining budget. Answer with the skus you ordered and the total cost.",
                     answer_schema=object_schema({"ordered_skus": ("array", "string"), "total_cost": "integer"}),
                     solution=solution_source({"categories": groups, "min_rating": min_rating, "budget": budget},
                                              SOLUTION_3),
                     verifier=verifier_source({"ordered_skus": [s for s, _ in placed], "total_cost": budget - left},
                                              unordered=("ordered_skus",), state_query=ORDERS_QUERY,
                                              expected_rows=sorted(placed)),
                     verifier_kind="both", level=3,
                     knobs=knobs | {"num_constraints": 4, "num_hops": 3, "writes": True, "budget": True})


SOLUTION_0 = '''
def solution(tools):
    items = [p for p in tools.list_products(category=P["category"]) if p["price"] >= P["min_price"]]
    return {"sku": min(items, key=lambda p: (p["stock"], p["sku"]))["sku"]}
'''

SOLUTION_1 = '''
def solution(tools):
    items = tools.list_products(category=P["category"])
    leads = {}
    for p in items:
        if p["supplier_id"] not in leads:
            leads[p["supplier_id"]] = tools.get_supplier(supplier_id=p["supplier_id"])["lead_days"]
    ok = [p for p in items if leads[p["supplier_id"]] <= P["max_lead"] and p["price"] >= P["min_price"]]
    best = min(ok, key=lambda p: (p["stock"] - p["reorder_level"], p["sku"]))
    return {"sku": best["sku"], "supplier_id": best["supplier_id"]}
'''

SOLUTION_2 = '''
def solution(tools):
    num, total = 0, 0
    for p in tools.list_products(category=P["category"]):
        if p["stock"] < p["reorder_level"]:
            order = tools.place_order(sku=p["sku"], quantity=P["target"] * p["reorder_level"] - p["stock"])
            num, total = num + 1, total + order["cost"]
    return {"num_orders": num, "total_cost": total}
'''

SOLUTION_3 = '''
def solution(tools):
    low, ratings = [], {}
    for category in P["categories"]:
        for p in tools.list_products(category=category):
            if p["stock"] >= p["reorder_level"]:
                continue
            if p["supplier_id"] not in ratings:
                ratings[p["supplier_id"]] = tools.get_supplier(supplier_id=p["supplier_id"])["rating"]
            if ratings[p["supplier_id"]] >= P["min_rating"]:
                low.append(p)
    left, skus = P["budget"], []
    for p in sorted(low, key=lambda p: (p["stock"] - p["reorder_level"], p["sku"])):
        quantity = 2 * p["reorder_level"] - p["stock"]
        if quantity * p["price"] <= left:
            left -= tools.place_order(sku=p["sku"], quantity=quantity)["cost"]
            skus.append(p["sku"])
    return {"ordered_skus": skus, "total_cost": P["budget"] - left}
'''
