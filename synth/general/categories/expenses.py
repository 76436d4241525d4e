"""Expense reports: employees, expenses and per-category monthly limits; the top level flags expenses (a DB change).

Level 0 totals one employee's month (1 call); level 1 finds a department's top spender; level 2 finds who went over a
category's monthly limit; level 3 flags those employees' expenses in that category, checked on the final DB.
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

CATEGORY = "expenses"
MAX_LEVEL = 3
DEPTS = ["sales", "legal", "ops", "research", "support"]
KINDS = ["travel", "meals", "software", "training", "supplies"]
MONTHS = ["2024-01", "2024-02", "2024-03"]
NAMES = ["Rosa Diaz", "Omar Haddad", "Lena Berg", "Tariq Aziz", "Mina Cho", "Ivan Petrov", "Zoe Martin", "Kofi Mensah",
         "Ana Lima", "Yuki Sato", "Liam Byrne", "Sara Costa", "Nils Holm", "Amara Obi", "Pedro Alves", "Hira Khan"]
FLAGS_QUERY = "SELECT expense_id FROM expenses WHERE flagged = 1 ORDER BY expense_id"

TOOLS = [
    (tool("get_expenses", "An employee's expenses in a month (YYYY-MM).",
          {"employee_id": {"type": "string"}, "month": {"type": "string"}}), '''
def get_expenses(db, employee_id, month):
    if db.execute("SELECT 1 FROM employees WHERE employee_id = ?", (employee_id,)).fetchone() is None:
        raise KeyError("unknown employee " + repr(employee_id))
    rows = db.execute("SELECT expense_id, category, amount, flagged FROM expenses WHERE employee_id = ? AND month = ? "
                      "ORDER BY expense_id", (employee_id, month))
    return [{"expense_id": r[0], "category": r[1], "amount": r[2], "flagged": bool(r[3])} for r in rows]
'''),
    (tool("list_employees", "Employees of a department.", {"department": {"type": "string"}}), '''
def list_employees(db, department):
    rows = db.execute("SELECT employee_id, name FROM employees WHERE department = ? ORDER BY employee_id",
                      (department,)).fetchall()
    if not rows:
        raise ValueError("unknown department " + repr(department))
    return [{"employee_id": r[0], "name": r[1]} for r in rows]
'''),
    (tool("get_limit", "The monthly spending limit per employee for an expense category.",
          {"category": {"type": "string"}}), '''
def get_limit(db, category):
    r = db.execute("SELECT monthly_limit FROM limits WHERE category = ?", (category,)).fetchone()
    if r is None:
        raise KeyError("unknown category " + repr(category))
    return {"category": category, "monthly_limit": r[0]}
'''),
    (tool("flag_expense", "Flag an expense for review.", {"expense_id": {"type": "integer"}}, kind="write"), '''
def flag_expense(db, expense_id):
    if db.execute("SELECT 1 FROM expenses WHERE expense_id = ?", (expense_id,)).fetchone() is None:
        raise KeyError("unknown expense " + repr(expense_id))
    db.execute("UPDATE expenses SET flagged = 1 WHERE expense_id = ?", (expense_id,))
    return {"flagged": expense_id}
'''),
]
TOOLS_AT_LEVEL = [1, 2, 3, 4]


def build_world(seed: int) -> dict[str, Any]:
    rng = unit_rng(CATEGORY, seed)
    depts = rng.sample(DEPTS, 3)
    names = rng.sample(NAMES, 12)
    employees = [(f"E{i:02d}{rng.randint(0, 9)}", names[i], depts[i % 3]) for i in range(12)]
    limits = [(k, rng.choice([100, 150, 200, 300])) for k in KINDS]
    expenses = []
    for e in employees:
        for month in MONTHS:
            for _ in range(rng.randint(1, 5)):
                expenses.append((len(expenses) + 1, e[0], month, rng.choice(KINDS), rng.randint(5, 180), 0))
    return {"depts": depts, "employees": employees, "limits": limits, "expenses": expenses}


def environment(seed: int, level: int) -> EnvDraft:
    w = build_world(seed)
    sql = (table_sql("employees", "employee_id TEXT PRIMARY KEY, name TEXT, department TEXT", w["employees"])
           + table_sql("limits", "category TEXT PRIMARY KEY, monthly_limit INTEGER", w["limits"])
           + table_sql("expenses", "expense_id INTEGER PRIMARY KEY, employee_id TEXT, month TEXT, category TEXT, "
                       "amount INTEGER, flagged INTEGER", w["expenses"]))
    return env_draft(CATEGORY, seed, sql, TOOLS[: TOOLS_AT_LEVEL[level]])


def task(seed: int, level: int) -> TaskDraft:
    w = build_world(seed)
    rng = unit_rng(CATEGORY, seed, "task")
    dept, month, kind = w["depts"][0], rng.choice(MONTHS), rng.choice(KINDS)
    staff = [e for e in w["employees"] if e[2] == dept]
    floor = rng.randint(5, 60)
    spent = {e[0]: sum(x[4] for x in w["expenses"] if x[1] == e[0] and x[2] == month and x[4] >= floor)
             for e in staff}
    knobs = {"num_tools": TOOLS_AT_LEVEL[level]}
    if level == 0:
        who = rng.choice(staff)
        return TaskDraft(prompt=f"What is the total amount of the expenses of at least {floor} that {who[1]} (employee "
                                f"id {who[0]}) filed in {month}?",
                         answer_schema=object_schema({"total": "integer"}),
                         solution=solution_source({"employee_id": who[0], "month": month, "floor": floor}, SOLUTION_0),
                         verifier=verifier_source({"total": spent[who[0]]}), level=0, knobs=knobs | {"num_hops": 1})
    if level == 1:
        top = min(staff, key=lambda e: (-spent[e[0]], e[0]))
        return TaskDraft(prompt=f"In the {dept} department, which employee spent the most in {month}, counting only "
                                f"expenses of at least {floor} (ties: smaller employee id), and how much?",
                         answer_schema=object_schema({"employee_id": "string", "total": "integer"}),
                         solution=solution_source({"department": dept, "month": month, "floor": floor}, SOLUTION_1),
                         verifier=verifier_source({"employee_id": top[0], "total": spent[top[0]]}), level=1,
                         knobs=knobs | {"num_hops": 2})
    limit = dict(w["limits"])[kind]
    by_kind = {e[0]: [x for x in w["expenses"] if x[1] == e[0] and x[2] == month and x[3] == kind] for e in staff}
    over = sorted(e for e, xs in by_kind.items() if sum(x[4] for x in xs) > limit)
    schema = object_schema({"employee_ids": ("array", "string")})
    params = {"department": dept, "month": month, "category": kind}
    prompt = (f"Which employees of the {dept} department spent more than the monthly limit for {kind} in {month}? "
              "List their employee ids (empty if none).")
    if level == 2:
        return TaskDraft(prompt=prompt, answer_schema=schema, solution=solution_source(params, SOLUTION_2),
                         verifier=verifier_source({"employee_ids": over}, unordered=("employee_ids",)), level=2,
                         knobs=knobs | {"num_hops": 3, "num_constraints": 2})
    flagged = sorted(x[0] for e in over for x in by_kind[e])
    return TaskDraft(prompt=prompt + f" Then flag every {kind} expense of theirs from {month} for review, and also "
                                     "report how many expenses you flagged.",
                     answer_schema=object_schema({"employee_ids": ("array", "string"), "num_flagged": "integer"}),
                     solution=solution_source(params, SOLUTION_3),
                     verifier=verifier_source({"employee_ids": over, "num_flagged": len(flagged)},
                                              unordered=("employee_ids",), state_query=FLAGS_QUERY,
                                              expected_rows=[[x] for x in flagged]),
                     verifier_kind="both", level=3, knobs=knobs | {"num_hops": 4, "num_constraints": 2, "writes": True})


SOLUTION_0 = '''
def solution(tools):
    mine = tools.get_expenses(employee_id=P["employee_id"], month=P["month"])
    return {"total": sum(x["amount"] for x in mine if x["amount"] >= P["floor"])}
'''

SOLUTION_1 = '''
def solution(tools):
    totals = []
    for e in tools.list_employees(department=P["department"]):
        mine = tools.get_expenses(employee_id=e["employee_id"], month=P["month"])
        spent = sum(x["amount"] for x in mine if x["amount"] >= P["floor"])
        totals.append((-spent, e["employee_id"]))
    best = min(totals)
    return {"employee_id": best[1], "total": -best[0]}
'''

SOLUTION_2 = '''
def over_limit(tools):
    limit = tools.get_limit(category=P["category"])["monthly_limit"]
    out = {}
    for e in tools.list_employees(department=P["department"]):
        mine = [x for x in tools.get_expenses(employee_id=e["employee_id"], month=P["month"])
                if x["category"] == P["category"]]
        if sum(x["amount"] for x in mine) > limit:
            out[e["employee_id"]] = mine
    return out


def solution(tools):
    return {"employee_ids": sorted(over_limit(tools))}
'''

SOLUTION_3 = SOLUTION_2 + '''

def solution(tools):
    over = over_limit(tools)
    num = 0
    for employee_id in sorted(over):
        for x in over[employee_id]:
            tools.flag_expense(expense_id=x["expense_id"])
            num += 1
    return {"employee_ids": sorted(over), "num_flagged": num}
'''
