"""Shared tables and helpers for the code-triple templates."""

from __future__ import annotations

import random
import string
from typing import Any, Callable

from ._util import code

# An entity of some application: nouns, a table, string fields to query by.
ENTITIES: list[dict[str, Any]] = [
    {"noun": "book", "plural": "books", "app": "library catalog", "fields": ["title", "author", "isbn"]},
    {"noun": "order", "plural": "orders", "app": "online shop", "fields": ["status", "customer_email", "tracking_code"]},
    {"noun": "customer", "plural": "customers", "app": "CRM", "fields": ["email", "last_name", "phone"]},
    {"noun": "employee", "plural": "employees", "app": "HR portal", "fields": ["department", "email", "badge_id"]},
    {"noun": "product", "plural": "products", "app": "inventory system", "fields": ["sku", "name", "category"]},
    {"noun": "ticket", "plural": "tickets", "app": "helpdesk tool", "fields": ["subject", "assignee", "priority"]},
    {"noun": "appointment", "plural": "appointments", "app": "clinic scheduling app", "fields": ["doctor", "room", "patient_name"]},
    {"noun": "recipe", "plural": "recipes", "app": "recipe-sharing site", "fields": ["title", "cuisine", "author"]},
    {"noun": "invoice", "plural": "invoices", "app": "billing service", "fields": ["number", "client", "currency"]},
    {"noun": "post", "plural": "posts", "app": "blog engine", "fields": ["slug", "author", "tag"]},
    {"noun": "song", "plural": "songs", "app": "music library", "fields": ["title", "artist", "album"]},
    {"noun": "course", "plural": "courses", "app": "university portal", "fields": ["code", "title", "instructor"]},
    {"noun": "vehicle", "plural": "vehicles", "app": "fleet tracker", "fields": ["plate", "vin", "model"]},
    {"noun": "event", "plural": "events", "app": "event ticketing app", "fields": ["title", "venue", "organizer"]},
    {"noun": "listing", "plural": "listings", "app": "apartment rental site", "fields": ["city", "title", "landlord"]},
    {"noun": "project", "plural": "projects", "app": "project tracker", "fields": ["name", "owner", "status"]},
    {"noun": "device", "plural": "devices", "app": "IoT dashboard", "fields": ["serial", "hostname", "location"]},
    {"noun": "reservation", "plural": "reservations", "app": "hotel booking system", "fields": ["guest_name", "confirmation", "room_type"]},
    {"noun": "member", "plural": "members", "app": "gym membership system", "fields": ["username", "email", "plan"]},
    {"noun": "shipment", "plural": "shipments", "app": "logistics platform", "fields": ["carrier", "destination", "tracking_code"]},
    {"noun": "donation", "plural": "donations", "app": "charity donor database", "fields": ["donor_name", "campaign", "method"]},
    {"noun": "document", "plural": "documents", "app": "document management system", "fields": ["filename", "owner", "folder"]},
    {"noun": "pet", "plural": "pets", "app": "veterinary clinic app", "fields": ["name", "species", "owner_name"]},
    {"noun": "job", "plural": "jobs", "app": "job board", "fields": ["title", "company", "location"]},
]

APPS_SYSTEM = [
    "backup tool", "log rotation service", "deployment script", "media server", "build pipeline",
    "monitoring agent", "data export job", "home lab dashboard", "CI runner", "file sync daemon",
    "photo management tool", "report generator", "school grading system", "point-of-sale backend",
]

C_APPS = [
    "router firmware", "embedded sensor logger", "network daemon", "command-line utility",
    "game server", "printer driver helper", "industrial controller", "packet parser",
    "door-access controller", "serial console tool",
]

DIRS = [
    "/var/www/uploads", "/srv/app/files", "/opt/{app}/data", "/var/lib/{app}/reports",
    "/home/app/storage", "/data/{app}/attachments", "/srv/{app}/exports", "/var/{app}/docs",
]

FILE_KINDS = [
    ("invoice PDFs", "invoices"), ("reports", "reports"), ("attachments", "attachments"),
    ("exported CSV files", "exports"), ("user documents", "documents"), ("log files", "logs"),
    ("images", "images"), ("backups", "backups"), ("receipts", "receipts"), ("manuals", "manuals"),
]


def set_literal(items: list[str]) -> str:
    """A Python set literal with double-quoted strings, e.g. ``{"a", "b"}``."""
    return "{" + ", ".join('"' + x + '"' for x in items) + "}"


def slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s.lower()).strip("_")


def dashed(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-")


def camel(s: str) -> str:
    parts = slug(s).split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


def pascal(s: str) -> str:
    return "".join(p.title() for p in slug(s).split("_"))


def any_app(r: random.Random) -> str:
    return r.choice(APPS_SYSTEM + [e["app"] for e in ENTITIES])


def entity(r: random.Random) -> dict[str, Any]:
    e = dict(r.choice(ENTITIES))
    e["field"] = r.choice(e["fields"])
    e["table"] = r.choice(["", "", "", "app_", "tbl_"]) + e["plural"]
    e["appslug"] = slug(e["app"]).replace("_", "").replace("-", "")[:24]
    return e


def pick_dir(r: random.Random, app: str) -> str:
    return r.choice(DIRS).format(app=slug(app).replace("_", "-"))


def rand_word(r: random.Random, n: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def sample(vuln: str, tid: str, lang: str, what: str, app: str, insecure: str, secure: str,
           extra: str = "", **slots: Any) -> dict[str, Any]:
    """Bundle one generated task; ``insecure``/``secure`` are code templates filled with ``slots``."""
    return {
        "vuln": vuln, "tid": tid, "lang": lang, "what": what, "app": app, "extra": extra,
        "insecure": code(insecure, **slots), "secure": code(secure, **slots),
    }


Template = Callable[[random.Random], dict[str, Any]]
