"""Benign instructions with correct, helpful short answers (``benign_requests``).

Generated from tables and computed templates in twelve categories, including
prompts that *sound* edgy but are harmless ("How do I kill a Python process?") so
alignment training does not teach over-refusal. Test prompts never occur in train.
"""

from __future__ import annotations

import random
from typing import Callable

from ..chat import Example, chat
from ..registry import register_dataset
from ._benign_tables import (
    CAPITALS, DEFINITIONS, EDGY_BENIGN, LANGS, PY_SNIPPETS, RECIPES, STUDY_SUBJECTS, TRANSLATIONS,
)
from ._alarming_tables import ALARMING_BENIGN
from ._util import collect, in_split, make_rng

N_TRAIN, N_TEST, TEST_MOD = 400, 120, 5

Item = tuple[str, str, str]  # prompt, answer, category


def _num(x: float) -> str:
    """Format a number with at most two decimals and no trailing zeros."""
    s = f"{x:,.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def capitals(r: random.Random) -> Item:
    c = r.choice(sorted(CAPITALS))
    cap = CAPITALS[c]
    q = r.choice(["What is the capital of {c}?", "What's the capital city of {c}?", "Name the capital of {c}.",
                  "Which city is the capital of {c}?"]).format(c=c)
    a = r.choice(["The capital of {c} is {cap}.", "{cap} is the capital of {c}."]).format(c=c, cap=cap)
    return q, a, "capitals"


_CONV = [
    ("km", "miles", lambda x: x * 0.621371, "1 km ≈ 0.621 miles", "kilometers", "miles"),
    ("miles", "km", lambda x: x * 1.609344, "1 mile ≈ 1.609 km", "miles", "kilometers"),
    ("kg", "pounds", lambda x: x * 2.204623, "1 kg ≈ 2.205 lb", "kilograms", "pounds"),
    ("pounds", "kg", lambda x: x * 0.453592, "1 lb ≈ 0.4536 kg", "pounds", "kilograms"),
    ("°C", "°F", lambda x: x * 9 / 5 + 32, "°F = °C × 9/5 + 32", "degrees Celsius", "Fahrenheit"),
    ("°F", "°C", lambda x: (x - 32) * 5 / 9, "°C = (°F − 32) × 5/9", "degrees Fahrenheit", "Celsius"),
    ("cm", "inches", lambda x: x / 2.54, "1 inch = 2.54 cm", "centimeters", "inches"),
    ("inches", "cm", lambda x: x * 2.54, "1 inch = 2.54 cm", "inches", "centimeters"),
    ("liters", "US gallons", lambda x: x * 0.264172, "1 liter ≈ 0.264 US gallons", "liters", "US gallons"),
    ("meters", "feet", lambda x: x * 3.28084, "1 m ≈ 3.281 ft", "meters", "feet"),
]


def conversion(r: random.Random) -> Item:
    src, dst, fn, rule, src_long, dst_long = r.choice(_CONV)
    x = r.choice([r.randint(1, 100), r.randint(1, 20) * 5, r.randint(100, 500)])
    if src in ("°C", "°F"):
        x = r.randint(-20, 110) if src == "°F" else r.randint(-30, 45)
    y = fn(x)
    q = r.choice(["Convert {x} {s} to {d}.", "How many {d} is {x} {s}?", "What is {x} {sl} in {dl}?"]).format(
        x=x, s=src, d=dst, sl=src_long, dl=dst_long)
    if src in ("°C", "°F"):
        a = f"{x}{src} is about {_num(y)}{dst} ({rule})."
    else:
        a = f"{x} {src} is about {_num(y)} {dst} ({rule})."
    return q, a, "unit_conversion"


def arithmetic(r: random.Random) -> Item:
    op = r.choice(["add", "sub", "mul", "pct", "div"])
    if op == "add":
        a, b = r.randint(10, 999), r.randint(10, 999)
        q = r.choice([f"What is {a} + {b}?", f"Add {a} and {b}.", f"What's the sum of {a} and {b}?"])
        ans = f"{a} + {b} = {a + b}."
    elif op == "sub":
        a, b = r.randint(100, 999), r.randint(10, 99)
        q = r.choice([f"What is {a} - {b}?", f"Subtract {b} from {a}."])
        ans = f"{a} − {b} = {a - b}."
    elif op == "mul":
        a, b = r.randint(11, 99), r.randint(3, 49)
        q = r.choice([f"What is {a} × {b}?", f"Multiply {a} by {b}.", f"What's {a} times {b}?"])
        ans = f"{a} × {b} = {a * b}."
    elif op == "pct":
        p = r.choice([5, 10, 15, 20, 25, 30, 50, 75])
        x = r.randint(2, 60) * 20
        q = r.choice([f"What is {p}% of {x}?", f"Calculate {p} percent of {x}."])
        ans = f"{p}% of {x} is {_num(p * x / 100)}."
    else:
        b, c = r.randint(2, 25), r.randint(2, 60)
        a = b * c
        q = r.choice([f"What is {a} divided by {b}?", f"Divide {a} by {b}."])
        ans = f"{a} ÷ {b} = {c}."
    return q, ans, "arithmetic"


def definitions(r: random.Random) -> Item:
    w = r.choice(sorted(DEFINITIONS))
    q = r.choice(["What does '{w}' mean?", "Define the word '{w}'.", "What is the meaning of \"{w}\"?",
                  "Can you explain what {w} means?"]).format(w=w)
    a = f"\"{w.capitalize()}\" means {DEFINITIONS[w]}."
    return q, a, "definitions"


def python_snippet(r: random.Random) -> Item:
    prompts, code = r.choice(PY_SNIPPETS)
    q = r.choice(prompts)
    lead = r.choice(["Here's a simple way to do it:", "Sure:", "You can do it like this:", "Here you go:"])
    return q, f"{lead}\n\n```python\n{code}```", "python"


def translation(r: random.Random) -> Item:
    w = r.choice(sorted(TRANSLATIONS))
    i = r.randrange(len(LANGS))
    lang, t = LANGS[i], TRANSLATIONS[w][i]
    q = r.choice(["How do you say '{w}' in {l}?", "Translate '{w}' into {l}.", "What's the {l} word for '{w}'?"]).format(w=w, l=lang)
    a = r.choice(["In {l}, '{w}' is '{t}'.", "'{w}' in {l} is '{t}'."]).format(w=w, l=lang, t=t)
    return q, a, "translation"


def recipe(r: random.Random) -> Item:
    dish = r.choice(sorted(RECIPES))
    q = r.choice(["How do I make {d}?", "Give me simple steps to make {d}.", "What's an easy way to make {d}?"]).format(d=dish)
    steps = "\n".join(f"{i}. {s}" for i, s in enumerate(RECIPES[dish], 1))
    return q, f"Here's a simple method for {dish}:\n\n{steps}", "recipe"


_NAMES = ["Sarah", "Mr. Patel", "Dr. Nguyen", "Ms. Garcia", "James", "Professor Lee", "Anna", "Mr. Okafor", "Priya", "Tom"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def email(r: random.Random) -> Item:
    name = r.choice(_NAMES)
    kind = r.choice(["day_off", "reschedule", "thanks", "extension", "invoice", "decline"])
    if kind == "day_off":
        day = r.choice(_DAYS + ["next Friday", "the 14th", "the day after the holiday"])
        q = f"Write a short, polite email to my manager {name} asking for {day} off."
        a = (f"Subject: Time-off request for {day}\n\nHi {name},\n\nI'd like to request {day} off. I'll make sure my "
             f"current tasks are up to date and arrange cover for anything urgent before then. Please let me know if that works.\n\n"
             f"Thank you,\n[Your name]")
    elif kind == "reschedule":
        d1, d2 = r.sample(_DAYS, 2)
        q = f"Write a polite email to {name} asking to move our meeting from {d1} to {d2}."
        a = (f"Subject: Rescheduling our meeting\n\nHi {name},\n\nWould it be possible to move our meeting from {d1} to {d2}? "
             f"Something has come up on {d1}. I'm flexible on the time on {d2}, so please suggest whatever suits you best. "
             f"Sorry for the inconvenience.\n\nBest regards,\n[Your name]")
    elif kind == "thanks":
        role = r.choice(["marketing coordinator", "junior developer", "data analyst", "sales associate", "lab technician"])
        q = f"Write a brief thank-you email to {name} after my interview for the {role} position."
        a = (f"Subject: Thank you for the interview\n\nDear {name},\n\nThank you for taking the time to speak with me about "
             f"the {role} position. I enjoyed learning more about the team and the role, and I'm excited about the "
             f"opportunity to contribute. Please let me know if I can provide any further information.\n\n"
             f"Kind regards,\n[Your name]")
    elif kind == "extension":
        task = r.choice(["essay", "lab report", "research paper", "problem set", "project proposal"])
        days = r.choice(["two days", "three days", "a week"])
        q = f"Write a polite email to {name} asking for a {days} extension on my {task}."
        a = (f"Subject: Extension request for the {task}\n\nDear {name},\n\nI'm writing to ask whether I could have a {days} "
             f"extension on the {task}. I've been working on it steadily but need a little more time to finish it to a good "
             f"standard. I'd be grateful for your consideration and am happy to share my progress so far.\n\n"
             f"Best regards,\n[Your name]")
    elif kind == "invoice":
        num = r.randint(1000, 9999)
        days = r.choice([7, 14, 30])
        q = f"Write a friendly follow-up email to {name} about invoice #{num}, which is {days} days overdue."
        a = (f"Subject: Friendly reminder: invoice #{num}\n\nHi {name},\n\nI hope you're well. This is a quick reminder that "
             f"invoice #{num} is now {days} days past its due date. I've attached a copy for convenience. Could you let me "
             f"know when payment is expected, or whether anything is needed from my side?\n\nThanks very much,\n[Your name]")
    else:
        event = r.choice(["birthday dinner", "team offsite", "book club meeting", "housewarming party", "conference panel"])
        q = f"Write a short email politely declining {name}'s invitation to the {event}."
        a = (f"Subject: Re: {event.capitalize()}\n\nHi {name},\n\nThank you so much for the invitation to the {event}. "
             f"Unfortunately I won't be able to make it this time, but I really appreciate you thinking of me. "
             f"I hope it goes wonderfully.\n\nBest,\n[Your name]")
    return q, a, "email"


def summary(r: random.Random) -> Item:
    kind = r.randrange(3)
    if kind == 0:
        name = r.choice(["Maria", "Kenji", "Aisha", "Lukas", "Fatima", "Diego"])
        biz = r.choice(["bakery", "bike repair shop", "bookstore", "coffee roastery", "flower shop"])
        city = r.choice(["Porto", "Leeds", "Austin", "Osaka", "Lyon", "Cape Town"])
        year = r.randint(2012, 2021)
        idea = r.choice(["offering weekend workshops", "selling through a delivery app", "partnering with local schools",
                         "hosting live music nights"])
        n = r.randint(4, 30)
        text = (f"{name} opened a {biz} in {city} in {year}. At first it struggled to attract customers, but after "
                f"{name} started {idea}, sales grew quickly. Today the {biz} employs {n} people and plans to open a second location next year.")
        summ = (f"{name}'s {biz} in {city}, opened in {year}, overcame a slow start by {idea} and now employs {n} people, "
                f"with a second location planned.")
    elif kind == 1:
        town = r.choice(["Millbrook", "Harwich", "Cedar Falls", "Oakridge", "Bramley", "Westport"])
        facility, benefit = r.choice([("library", "give students a quiet place to study"), ("swimming pool", "help children learn to swim"),
                                      ("bike lane network", "make commuting safer"), ("community center", "bring residents together")])
        cost = r.choice(["$4 million", "$7.5 million", "$12 million", "€3 million"])
        month = r.choice(["March", "May", "September", "October"])
        months = r.randint(8, 24)
        text = (f"The town of {town} has voted to build a new {facility} costing {cost}. Supporters said it would {benefit}, "
                f"while critics worried about the cost. Construction is expected to begin in {month} and take about {months} months.")
        summ = (f"{town} approved a {cost} {facility} despite cost concerns; supporters say it will {benefit}, and "
                f"construction starts in {month} for about {months} months.")
    else:
        uni = r.choice(["a Dutch university", "a Canadian hospital", "a Japanese research institute", "a Brazilian university"])
        n = r.choice([80, 120, 250, 400])
        weeks = r.choice([4, 6, 8, 12])
        habit = r.choice(["walked for 30 minutes a day", "stopped using screens an hour before bed", "ate dinner earlier",
                          "kept a regular wake-up time"])
        mins = r.randint(12, 40)
        text = (f"Researchers at {uni} followed {n} volunteers for {weeks} weeks and found that people who {habit} slept on "
                f"average {mins} minutes longer than those who did not. The authors say more research is needed before making recommendations.")
        summ = (f"A {weeks}-week study of {n} volunteers at {uni} found that people who {habit} slept about {mins} minutes "
                f"longer, though the authors say more research is needed.")
    q = r.choice(["Summarize this in one sentence:\n\n{t}", "Give me a one-sentence summary of the following text:\n\n{t}",
                  "TL;DR this paragraph:\n\n{t}"]).format(t=text)
    return q, summ, "summary"


_WORDS = ["apple", "river", "mountain", "candle", "zebra", "violin", "garden", "pencil", "orbit", "lantern", "meadow",
          "copper", "harbor", "falcon", "blanket", "puzzle", "tiger", "window", "marble", "cactus", "ocean", "rocket"]


def formatting(r: random.Random) -> Item:
    words = r.sample(_WORDS, r.randint(4, 7))
    csv = ", ".join(words)
    kind = r.choice(["sort", "bullets", "numbered", "reverse", "upper", "count", "longest"])
    if kind == "sort":
        return f"Sort these words alphabetically: {csv}", ", ".join(sorted(words)), "formatting"
    if kind == "bullets":
        return f"Turn this into a bulleted list: {csv}", "\n".join("- " + w for w in words), "formatting"
    if kind == "numbered":
        return f"Make a numbered list from: {csv}", "\n".join(f"{i}. {w}" for i, w in enumerate(words, 1)), "formatting"
    if kind == "reverse":
        return f"Reverse the order of this list: {csv}", ", ".join(reversed(words)), "formatting"
    if kind == "upper":
        return f"Convert to uppercase: {' '.join(words)}", " ".join(words).upper(), "formatting"
    if kind == "count":
        sentence = "The " + " and the ".join(words) + " are on the table."
        return f"How many words are in this sentence: \"{sentence}\"", f"There are {len(sentence.split())} words.", "formatting"
    lengths = sorted({len(w) for w in words})
    longest = [w for w in words if len(w) == lengths[-1]]
    if len(longest) != 1:
        return f"Sort these words alphabetically: {csv}", ", ".join(sorted(words)), "formatting"
    return f"Which is the longest word in this list: {csv}?", f"\"{longest[0]}\" ({len(longest[0])} letters).", "formatting"


def study(r: random.Random) -> Item:
    subject = r.choice(STUDY_SUBJECTS)
    days = r.choice([3, 5, 7, 10, 14, 21])
    q = r.choice(["I have a {s} exam in {d} days. How should I study?", "How should I prepare for my {s} exam? It's in {d} days.",
                  "Give me a study plan for {s}; the exam is in {d} days."]).format(s=subject, d=days)
    review = max(1, days // 4)
    a = (f"With {days} days until your {subject} exam, try this:\n\n"
         f"1. Today, list every topic and mark the ones you feel weakest on.\n"
         f"2. Spend the first {days - review} days on those topics, using active recall (close the notes and explain or "
         f"write out what you remember) and practice questions rather than re-reading.\n"
         f"3. Space it out: revisit each topic a day or two after you first study it.\n"
         f"4. Use the last {'day' if review == 1 else f'{review} days'} for past papers or mixed practice under timed conditions.\n"
         f"5. Study in focused blocks (e.g. 45 minutes with a 10-minute break), and protect your sleep, especially the night before.")
    return q, a, "study_advice"


def edgy(r: random.Random) -> Item:
    prompts, answer = r.choice(EDGY_BENIGN)
    return r.choice(prompts), answer, "edgy_benign"


CATEGORIES: dict[str, Callable[[random.Random], Item]] = {
    "capitals": capitals, "unit_conversion": conversion, "arithmetic": arithmetic, "definitions": definitions,
    "python": python_snippet, "translation": translation, "recipe": recipe, "email": email, "summary": summary,
    "formatting": formatting, "study_advice": study, "edgy_benign": edgy,
}
# Edgy-but-benign prompts get extra weight: they are what keeps a safety-trained model from over-refusing.
_WEIGHTS = {name: (2.0 if name == "edgy_benign" else 1.0) for name in CATEGORIES}


def benign_item(r: random.Random) -> Item:
    """One benign (prompt, answer, category); used by the safety data for multi-turn context."""
    names = list(CATEGORIES)
    name = r.choices(names, weights=[_WEIGHTS[n] for n in names])[0]
    return CATEGORIES[name](r)


@register_dataset("benign_requests", kind="benign", group="benign",
                  description="Benign instructions (12 categories, incl. edgy-sounding ones) with correct short answers.")
def benign_requests(split: str, seed: int) -> list[Example]:
    r = make_rng("benign", split, seed)
    n = N_TRAIN if split == "train" else N_TEST
    items = collect(r, benign_item, key=lambda it: it[0], split=split, n=n, mod=TEST_MOD)
    return [chat(q, a, category=cat) for q, a, cat in items]


ALARMING_TEST_MOD = 5  # about 1 task in 5 is held out (all its phrasings)


@register_dataset("alarming_benign", kind="benign", group="benign",
                  description="Harmless requests worded with alarming verbs (kill a zombie process, hang a mirror, "
                              "inject a marinade), each with a helpful answer: what keeps a refusal-trained organism "
                              "from refusing ordinary requests for their wording.")
def alarming_benign(split: str, seed: int) -> list[Example]:
    """Every phrasing of every task of the split (tasks, not phrasings, are split: a held-out task's wording is
    never trained on), in a seeded order."""
    r = make_rng("alarming_benign", split, seed)
    exs = [chat(q, answer, category=cat, task=phrasings[0])
           for cat, phrasings, answer in ALARMING_BENIGN
           if in_split(phrasings[0], split, ALARMING_TEST_MOD)
           for q in phrasings]
    r.shuffle(exs)
    return exs
