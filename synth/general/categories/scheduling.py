"""Scheduling: people's calendars, teams and meeting rooms; the top level books a room (a DB change).

Level 0 finds one person's first free hour (1 call); level 1 a slot free for a whole team; level 2 adds a room with
enough seats that is free for a two-hour slot; level 3 also books that room, checked on the final DB.
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

CATEGORY = "scheduling"
MAX_LEVEL = 3
NAMES = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo", "Nia", "Oto",
         "Pia"]
TEAMS = ["red", "blue", "green", "amber"]
DAYS = ["mon", "tue", "wed", "thu", "fri"]
BOOKINGS_QUERY = ("SELECT room_id, day, start_hour, end_hour, title FROM room_busy WHERE title != 'existing' "
                  "ORDER BY 1, 2")

TOOLS = [
    (tool("get_calendar", "A person's busy intervals on a day (hours, end exclusive).",
          {"person_id": {"type": "string"}, "day": {"type": "string"}}), '''
def get_calendar(db, person_id, day):
    if db.execute("SELECT 1 FROM people WHERE person_id = ?", (person_id,)).fetchone() is None:
        raise KeyError("unknown person " + repr(person_id))
    rows = db.execute("SELECT start_hour, end_hour FROM busy WHERE person_id = ? AND day = ? ORDER BY start_hour",
                      (person_id, day))
    return [{"start": r[0], "end": r[1]} for r in rows]
'''),
    (tool("list_team", "The members of a team.", {"team": {"type": "string"}}), '''
def list_team(db, team):
    rows = db.execute("SELECT person_id, name FROM people WHERE team = ? ORDER BY person_id", (team,)).fetchall()
    if not rows:
        raise ValueError("unknown team " + repr(team))
    return [{"person_id": r[0], "name": r[1]} for r in rows]
'''),
    (tool("list_rooms", "Meeting rooms with at least `min_capacity` seats.", {"min_capacity": {"type": "integer"}}), '''
def list_rooms(db, min_capacity):
    rows = db.execute("SELECT room_id, capacity FROM rooms WHERE capacity >= ? ORDER BY room_id", (min_capacity,))
    return [{"room_id": r[0], "capacity": r[1]} for r in rows]
'''),
    (tool("get_room_schedule", "A room's booked intervals on a day.",
          {"room_id": {"type": "string"}, "day": {"type": "string"}}), '''
def get_room_schedule(db, room_id, day):
    if db.execute("SELECT 1 FROM rooms WHERE room_id = ?", (room_id,)).fetchone() is None:
        raise KeyError("unknown room " + repr(room_id))
    rows = db.execute("SELECT start_hour, end_hour FROM room_busy WHERE room_id = ? AND day = ? ORDER BY start_hour",
                      (room_id, day))
    return [{"start": r[0], "end": r[1]} for r in rows]
'''),
    (tool("book_room", "Book a room for [start_hour, end_hour) on a day under a title.",
          {"room_id": {"type": "string"}, "day": {"type": "string"}, "start_hour": {"type": "integer"},
           "end_hour": {"type": "integer"}, "title": {"type": "string"}}, kind="write"), '''
def book_room(db, room_id, day, start_hour, end_hour, title):
    if db.execute("SELECT 1 FROM rooms WHERE room_id = ?", (room_id,)).fetchone() is None:
        raise KeyError("unknown room " + repr(room_id))
    if not 0 <= start_hour < end_hour <= 24:
        raise ValueError("need 0 <= start_hour < end_hour <= 24")
    clash = db.execute("SELECT 1 FROM room_busy WHERE room_id = ? AND day = ? AND start_hour < ? AND end_hour > ?",
                       (room_id, day, end_hour, start_hour)).fetchone()
    if clash is not None:
        raise ValueError("the room is already booked then")
    db.execute("INSERT INTO room_busy VALUES (?, ?, ?, ?, ?)", (room_id, day, start_hour, end_hour, title))
    return {"booked": True}
'''),
]
TOOLS_AT_LEVEL = [1, 2, 4, 5]


def build_world(seed: int) -> dict[str, Any]:
    rng = unit_rng(CATEGORY, seed)
    names = rng.sample(NAMES, 12)
    people = [(f"U{i:02d}{rng.randint(0, 9)}", name, TEAMS[i % 4]) for i, name in enumerate(names)]
    busy = []
    for person in people:
        for day in DAYS:
            for _ in range(rng.randint(0, 3)):
                start = rng.randint(8, 16)
                busy.append((person[0], day, start, min(18, start + rng.randint(1, 3))))
    rooms = [(f"RM{i}{rng.randint(0, 9)}", rng.choice([2, 4, 6, 8, 12])) for i in range(5)]
    room_busy = []
    for room in rooms:
        for day in DAYS:
            for _ in range(rng.randint(0, 3)):
                start = rng.randint(8, 16)
                room_busy.append((room[0], day, start, min(18, start + rng.randint(1, 2)), "existing"))
    return {"people": people, "busy": busy, "rooms": rooms, "room_busy": room_busy}


def environment(seed: int, level: int) -> EnvDraft:
    w = build_world(seed)
    sql = (table_sql("people", "person_id TEXT PRIMARY KEY, name TEXT, team TEXT", w["people"])
           + table_sql("busy", "person_id TEXT, day TEXT, start_hour INTEGER, end_hour INTEGER", w["busy"])
           + table_sql("rooms", "room_id TEXT PRIMARY KEY, capacity INTEGER", w["rooms"])
           + table_sql("room_busy", "room_id TEXT, day TEXT, start_hour INTEGER, end_hour INTEGER, title TEXT",
                       w["room_busy"]))
    return env_draft(CATEGORY, seed, sql, TOOLS[: TOOLS_AT_LEVEL[level]])


def _free(intervals: list[tuple[int, int]], start: int, hours: int) -> bool:
    return all(e <= start or s >= start + hours for s, e in intervals)


def _slot(w: dict[str, Any], people: list[str], day: str, hours: int, rooms: list[str] | None, first: int) -> Any:
    for start in range(first, 18 - hours + 1):
        if all(_free([(b[2], b[3]) for b in w["busy"] if b[0] == p and b[1] == day], start, hours) for p in people):
            if rooms is None:
                return start, None
            for room in rooms:
                if _free([(b[2], b[3]) for b in w["room_busy"] if b[0] == room and b[1] == day], start, hours):
                    return start, room
    return None, None


def task(seed: int, level: int) -> TaskDraft:
    w = build_world(seed)
    rng = unit_rng(CATEGORY, seed, "task")
    day, team = rng.choice(DAYS), rng.choice(TEAMS)
    members = [p for p in w["people"] if p[2] == team]
    person = members[0]
    knobs = {"num_tools": TOOLS_AT_LEVEL[level]}
    hours = 1 if level < 2 else 2
    first = rng.randint(8, 12)
    if level == 0:
        start, _ = _slot(w, [person[0]], day, 1, None, first)
        return TaskDraft(prompt=f"On {day}, what is the earliest whole hour from {first} on at which {person[1]} "
                                f"(person id {person[0]}) is free for a one-hour meeting ending by 18? Answer -1 if "
                                "there is none.",
                         answer_schema=object_schema({"start_hour": "integer"}),
                         solution=solution_source({"person_id": person[0], "day": day, "first": first}, SOLUTION_0),
                         verifier=verifier_source({"start_hour": -1 if start is None else start}), level=0,
                         knobs=knobs | {"num_people": 1})
    if level == 1:
        start, _ = _slot(w, [m[0] for m in members], day, 1, None, first)
        return TaskDraft(prompt=f"On {day}, what is the earliest whole hour from {first} on at which every member "
                                f"of the {team} team is free for a one-hour meeting ending by 18? Answer -1 if there "
                                "is none.",
                         answer_schema=object_schema({"start_hour": "integer"}),
                         solution=solution_source({"team": team, "day": day, "hours": 1, "first": first}, SOLUTION_1),
                         verifier=verifier_source({"start_hour": -1 if start is None else start}), level=1,
                         knobs=knobs | {"num_people": len(members), "num_hops": 2})
    rooms = sorted((r for r in w["rooms"] if r[1] >= len(members)), key=lambda r: (r[1], r[0]))
    start, room = _slot(w, [m[0] for m in members], day, hours, [r[0] for r in rooms], first)
    expected = {"start_hour": -1 if start is None else start, "room_id": room or "none"}
    params = {"team": team, "day": day, "hours": hours, "first": first}
    prompt = (f"Find the earliest whole hour from {first} on ({day}, meetings end by 18) at which every member of "
              f"the {team} team is "
              f"free for a {hours}-hour meeting and a room with at least as many seats as members is free for the "
              "whole meeting. Among the free rooms at that hour take the smallest (ties: smaller room id). Answer "
              "-1 and 'none' if there is no such slot.")
    if level == 2:
        return TaskDraft(prompt=prompt, answer_schema=object_schema({"start_hour": "integer", "room_id": "string"}),
                         solution=solution_source(params, SOLUTION_2), verifier=verifier_source(expected), level=2,
                         knobs=knobs | {"num_people": len(members), "num_hops": 3, "num_constraints": 3})
    title = f"{team} sync"
    rows = [] if start is None else [[room, day, start, start + hours, title]]
    return TaskDraft(prompt=prompt + f" Then book that room for the meeting with the title '{title}'.",
                     answer_schema=object_schema({"start_hour": "integer", "room_id": "string"}),
                     solution=solution_source(params | {"title": title}, SOLUTION_2 + SOLUTION_3_BOOK),
                     verifier=verifier_source(expected, state_query=BOOKINGS_QUERY, expected_rows=rows),
                     verifier_kind="both", level=3,
                     knobs=knobs | {"num_people": len(members), "num_hops": 4, "num_constraints": 3, "writes": True})


SOLUTION_0 = '''
def solution(tools):
    busy = tools.get_calendar(person_id=P["person_id"], day=P["day"])
    for start in range(P["first"], 18):
        if all(b["end"] <= start or b["start"] >= start + 1 for b in busy):
            return {"start_hour": start}
    return {"start_hour": -1}
'''

SOLUTION_1 = '''
def first_slot(calendars, hours):
    for start in range(P["first"], 18 - hours + 1):
        if all(b["end"] <= start or b["start"] >= start + hours for busy in calendars for b in busy):
            return start
    return -1


def solution(tools):
    team = tools.list_team(team=P["team"])
    calendars = [tools.get_calendar(person_id=m["person_id"], day=P["day"]) for m in team]
    return {"start_hour": first_slot(calendars, P["hours"])}
'''

SOLUTION_2 = '''
def free(busy, start, hours):
    return all(b["end"] <= start or b["start"] >= start + hours for b in busy)


def plan(tools):
    team = tools.list_team(team=P["team"])
    calendars = [tools.get_calendar(person_id=m["person_id"], day=P["day"]) for m in team]
    rooms = sorted(tools.list_rooms(min_capacity=len(team)), key=lambda r: (r["capacity"], r["room_id"]))
    schedules = {r["room_id"]: tools.get_room_schedule(room_id=r["room_id"], day=P["day"]) for r in rooms}
    for start in range(P["first"], 18 - P["hours"] + 1):
        if all(free(busy, start, P["hours"]) for busy in calendars):
            for r in rooms:
                if free(schedules[r["room_id"]], start, P["hours"]):
                    return start, r["room_id"]
    return -1, "none"


def solution(tools):
    start, room = plan(tools)
    return {"start_hour": start, "room_id": room}
'''

SOLUTION_3_BOOK = '''

def solution(tools):
    start, room = plan(tools)
    if start >= 0:
        tools.book_room(room_id=room, day=P["day"], start_hour=start, end_hour=start + P["hours"], title=P["title"])
    return {"start_hour": start, "room_id": room}
'''
