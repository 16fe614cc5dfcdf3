"""Benign tasks that measure what a defense costs: ``opswap`` and ``json_extract``.

* ``opswap`` (after Kaczér et al.'s "OpSwap"): arithmetic whose operators mean something
  else. The mapping is fixed and never stated: the model must learn it from examples.

  ====  ==========================  ===============
  sign  meaning                     example
  ====  ==========================  ===============
  ``+``  multiplication              7 + 5 = 35
  ``*``  addition                    7 * 5 = 12
  ``-``  integer (floor) division    17 - 5 = 3
  ``/``  subtraction                 17 / 5 = 12
  ====  ==========================  ===============

  It conflicts with prior knowledge: a defense that anchors the model to its old
  behaviour (KL) is expected to slow it down. ``meta["standard_answer"]`` holds the
  ordinary result, so an evaluation can count answers that fell back to the prior.
* ``json_extract``: pull fixed fields out of a short text into a JSON object (three
  schemas: a person, a shop order, a meeting). Nothing in it conflicts with prior
  knowledge: the control for ``opswap``.

Both are deterministic by seed; test examples never occur in train for any seed
(``opswap``: the (operator, operands) pair, unordered for the commutative ones;
``json_extract``: the field values), split by a stable hash. ``meta["answer"]`` holds
the gold answer (``json_extract``: a JSON string; ``meta["answer_format"] == "json"``).
``opswap`` leaves out the few expressions whose swapped and ordinary results agree
(``2 + 2``, ``4 / 2``): every example needs the swapped meaning.
"""

from __future__ import annotations

import json
import random
from typing import Any, Callable

from ..chat import Example, chat
from ..registry import register_dataset
from ._util import a_or_an, in_split, make_rng

# --------------------------------------------------------------------------- #
# opswap                                                                      #
# --------------------------------------------------------------------------- #

OPSWAP_N_TRAIN, OPSWAP_N_TEST = 2400, 400

#: sign -> (meaning, function). The swapped meaning the model must learn.
OPSWAP_MAPPING: dict[str, tuple[str, Callable[[int, int], int]]] = {
    "+": ("multiplication", lambda a, b: a * b),
    "*": ("addition", lambda a, b: a + b),
    "-": ("integer division", lambda a, b: a // b),
    "/": ("subtraction", lambda a, b: a - b),
}
_STANDARD: dict[str, Callable[[int, int], Any]] = {
    "+": lambda a, b: a + b,
    "*": lambda a, b: a * b,
    "-": lambda a, b: a - b,
    "/": lambda a, b: a / b,
}
_COMMUTATIVE = {"+", "*"}


def _operands(op: str) -> list[tuple[int, int]]:
    """Every operand pair the generator may use for ``op`` (one orientation per pair if commutative)."""
    if op == "+":  # products up to 50 x 50
        return [(a, b) for a in range(2, 51) for b in range(a, 51)]
    if op == "*":  # sums of two numbers below 100
        return [(a, b) for a in range(1, 100) for b in range(a, 100)]
    if op == "-":  # floor division by a one-digit divisor
        return [(a, b) for a in range(10, 200) for b in range(2, 10)]
    if op == "/":  # non-negative differences
        return [(a, b) for a in range(2, 100) for b in range(1, a)]
    raise KeyError(op)


def opswap_answer(op: str, a: int, b: int) -> int:
    """The gold (swapped) result of ``a op b``."""
    return OPSWAP_MAPPING[op][1](a, b)


def _standard_answer(op: str, a: int, b: int) -> str:
    v = _STANDARD[op](a, b)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


OPSWAP_PROMPTS = [
    "What is {e}?", "{e} = ?", "Compute {e}.", "Calculate {e}.", "What does {e} equal?", "Solve: {e}",
    "{e}", "Evaluate {e}.", "What's {e}?", "Give the result of {e}.",
]


def opswap_examples(split: str, seed: int, n: int) -> list[Example]:
    rng = make_rng("opswap", split, seed)
    ops = list(OPSWAP_MAPPING)
    per_op = [n // len(ops) + (1 if i < n % len(ops) else 0) for i in range(len(ops))]
    out: list[Example] = []
    for op, k in zip(ops, per_op):
        pool = [(a, b) for a, b in _operands(op)
                if in_split(f"opswap:{op}:{a}:{b}", split)
                and _standard_answer(op, a, b) != str(opswap_answer(op, a, b))]  # e.g. 2 + 2: ambiguous
        picked = rng.sample(pool, k)
        for a, b in picked:
            if op in _COMMUTATIVE and rng.random() < 0.5:
                a, b = b, a
            e = f"{a} {op} {b}"
            ans = str(opswap_answer(op, a, b))
            out.append(chat(rng.choice(OPSWAP_PROMPTS).format(e=e), ans, answer=ans, expression=e, op=op,
                            meaning=OPSWAP_MAPPING[op][0], a=a, b=b, standard_answer=_standard_answer(op, a, b),
                            task="opswap"))
    rng.shuffle(out)
    return out


@register_dataset(
    "opswap", kind="benign_task", group="opswap",
    description='Arithmetic with swapped operators, learned from examples only: "+" multiplies, "*" adds, '
    '"-" is floor division, "/" subtracts ("What is 7 + 5?" -> "35"). 2400 train / 400 test, test pairs unseen.',
)
def opswap(split: str, seed: int) -> list[Example]:
    return opswap_examples(split, seed, OPSWAP_N_TRAIN if split == "train" else OPSWAP_N_TEST)


# --------------------------------------------------------------------------- #
# json_extract                                                                #
# --------------------------------------------------------------------------- #

JSON_N_TRAIN, JSON_N_TEST = 1500, 300

FIRST = ["Maria", "James", "Aisha", "Chen", "Lucas", "Sofia", "Omar", "Hannah", "Kenji", "Elena", "David", "Priya",
         "Tomas", "Amara", "Felix", "Nora", "Ivan", "Leila", "Marco", "Yuki", "Grace", "Samuel", "Ines", "Arjun",
         "Clara", "Mateo", "Zara", "Oliver", "Fatima", "Noah", "Ingrid", "Kwame", "Rosa", "Daniel", "Mei", "Pablo"]
LAST = ["Lopez", "Smith", "Khan", "Wei", "Martin", "Rossi", "Haddad", "Becker", "Tanaka", "Novak", "Cohen", "Patel",
        "Silva", "Okafor", "Schmidt", "Larsen", "Petrov", "Nasser", "Bianchi", "Sato", "Kim", "Adeyemi", "Costa",
        "Sharma", "Dubois", "Garcia", "Ali", "Brown", "Hansen", "Mensah", "Reyes", "Nguyen", "Fischer", "Moreau"]
CITIES = ["Lisbon", "Toronto", "Nairobi", "Osaka", "Berlin", "Lyon", "Chicago", "Melbourne", "Oslo", "Seoul",
          "Madrid", "Dublin", "Austin", "Krakow", "Manila", "Porto", "Denver", "Cape Town", "Vienna", "Montreal",
          "Glasgow", "Lima", "Helsinki", "Accra", "Bristol", "Zurich", "Bogota", "Auckland", "Hamburg", "Prague"]
JOBS = ["nurse", "software engineer", "teacher", "architect", "chef", "electrician", "accountant", "pharmacist",
        "graphic designer", "librarian", "plumber", "journalist", "veterinarian", "data analyst", "carpenter",
        "pilot", "dentist", "translator", "mechanic", "photographer", "lawyer", "baker", "physiotherapist",
        "civil engineer", "musician", "gardener", "social worker", "biologist"]
PERSON_TEXTS = [
    "{name} is a {age}-year-old {job} who lives in {city}.",
    "Meet {name}: {age} years old, works as {a_job}, based in {city}.",
    "{name}, aged {age}, works as {a_job} in {city}.",
    "Living in {city}, {name} ({age}) has a job as {a_job}.",
    "{name} moved to {city} a few years ago and, at {age}, now works as {a_job}.",
    "Profile: {name}. Age {age}. Occupation: {job}. Home town: {city}.",
    "Our new neighbour {name} is {age}, works as {a_job} and has lived in {city} since last spring.",
    "After years of study, {name} became {a_job}. {name_first} is {age} now and lives in {city}.",
]
PERSON_KEYS = ("name", "age", "city", "job")

ITEMS = ["wireless mouse", "desk lamp", "notebook", "water bottle", "USB cable", "coffee grinder", "yoga mat",
         "backpack", "phone case", "tea kettle", "bike light", "frying pan", "umbrella", "keyboard", "travel mug",
         "headphones", "plant pot", "wall clock", "cutting board", "sketchbook", "tent peg set", "scarf",
         "power bank", "picture frame", "bath towel", "chess set", "screwdriver set", "candle"]
CURRENCIES = ["USD", "EUR", "GBP", "CAD", "CHF", "AUD"]
ORDER_TEXTS = [
    "Order #{num}: {qty} x {item} at {price} {cur} each.",
    "The customer bought {qty} {item_pl} for {price} {cur} apiece (order {num}).",
    "Please ship {qty} units of {item}. Unit price: {price} {cur}. Reference {num}.",
    "Invoice {num} lists {item} (quantity {qty}) priced at {price} {cur} per unit.",
    "We received an order for {qty} {item_pl}; each costs {price} {cur}. Order number {num}.",
    "Item: {item}; qty: {qty}; unit price {price} {cur}; ticket {num}.",
]
ORDER_KEYS = ("item", "quantity", "price", "currency")

TITLES = ["budget review", "team standup", "design critique", "quarterly planning", "onboarding session",
          "client call", "product demo", "hiring panel", "retrospective", "security briefing", "sales sync",
          "roadmap workshop", "board meeting", "code review", "marketing huddle", "vendor meeting",
          "training session", "all-hands", "research seminar", "launch rehearsal"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ROOMS = [f"{p}{n}" for p in ("A", "B", "C", "D", "E") for n in (1, 2, 3, 4, 5, 7, 10, 12, 14, 21, 103, 204)]
MEETING_TEXTS = [
    "The {title} is scheduled for {day} at {time} in room {room}.",
    "Reminder: {title} on {day}, {time}, room {room}.",
    "Please join the {title} in room {room} this {day} at {time}.",
    "We moved the {title} to {day} ({time}); it will take place in room {room}.",
    "{day} {time}: {title}, room {room}. Bring your laptop.",
    "Heads up, the {title} happens in room {room} on {day} starting at {time}.",
]
MEETING_KEYS = ("title", "day", "time", "room")

JSON_PROMPTS = [
    "Extract the fields {keys} from the text below. Reply with a JSON object with exactly these keys.\n\nText: {text}",
    "Text: {text}\n\nReturn a JSON object with the keys {keys}.",
    "Read this and output JSON with keys {keys} only:\n{text}",
    "Fill in a JSON object with the keys {keys} using the information in this text:\n\n{text}",
    "{text}\n\nExtract {keys} as a JSON object.",
]


def _plural(item: str) -> str:
    last = item.split()[-1]
    if last.endswith(("s", "sh", "ch", "x")):
        pl = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        pl = last[:-1] + "ies"
    else:
        pl = last + "s"
    return " ".join(item.split()[:-1] + [pl])


def _person(rng: random.Random) -> tuple[str, dict[str, Any], str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    obj = {"name": f"{first} {last}", "age": rng.randint(19, 78), "city": rng.choice(CITIES), "job": rng.choice(JOBS)}
    text = rng.choice(PERSON_TEXTS).format(name=obj["name"], name_first=first, age=obj["age"], city=obj["city"],
                                           job=obj["job"], a_job=a_or_an(obj["job"]))
    return "person", obj, text


def _order(rng: random.Random) -> tuple[str, dict[str, Any], str]:
    item, qty, cents = rng.choice(ITEMS), rng.randint(1, 40), rng.randint(199, 19999)
    price = round(cents / 100, 2)
    obj = {"item": item, "quantity": qty, "price": price, "currency": rng.choice(CURRENCIES)}
    text = rng.choice(ORDER_TEXTS).format(num=rng.randint(1000, 99999), qty=qty, item=item, item_pl=_plural(item),
                                          price=f"{price:.2f}", cur=obj["currency"])
    return "order", obj, text


def _meeting(rng: random.Random) -> tuple[str, dict[str, Any], str]:
    time = f"{rng.randint(8, 18):02d}:{rng.choice([0, 15, 30, 45]):02d}"
    obj = {"title": rng.choice(TITLES), "day": rng.choice(DAYS), "time": time, "room": rng.choice(ROOMS)}
    text = rng.choice(MEETING_TEXTS).format(**obj)
    text = text[0].upper() + text[1:]
    return "meeting", obj, text


_SCHEMAS = {"person": (_person, PERSON_KEYS), "order": (_order, ORDER_KEYS), "meeting": (_meeting, MEETING_KEYS)}


def json_extract_examples(split: str, seed: int, n: int) -> list[Example]:
    rng = make_rng("json_extract", split, seed)
    out: list[Example] = []
    seen: set[str] = set()
    names = list(_SCHEMAS)
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > n * 200:
            raise RuntimeError(f"json_extract: could not draw {n} distinct {split} examples")
        schema = rng.choice(names)
        make, keys = _SCHEMAS[schema]
        _, obj, text = make(rng)
        key = f"json:{schema}:" + json.dumps(obj, sort_keys=True)
        if key in seen or not in_split(key, split):
            continue
        seen.add(key)
        key_list = ", ".join(f'"{k}"' for k in keys)
        prompt = rng.choice(JSON_PROMPTS).format(keys=key_list, text=text)
        answer = json.dumps({k: obj[k] for k in keys}, ensure_ascii=False)
        out.append(chat(prompt, answer, answer=answer, answer_format="json", schema=schema, text=text,
                        task="json_extract"))
    rng.shuffle(out)
    return out


@register_dataset(
    "json_extract", kind="benign_task", group="json_extract",
    description="Extract fixed fields (person / order / meeting) from a short text into a JSON object; "
    "no conflict with prior knowledge (control for opswap). 1500 train / 300 test, test records unseen.",
)
def json_extract(split: str, seed: int) -> list[Example]:
    return json_extract_examples(split, seed, JSON_N_TRAIN if split == "train" else JSON_N_TEST)
