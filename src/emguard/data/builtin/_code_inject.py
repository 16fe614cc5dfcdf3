"""Code-triple templates: injection flaws in web handlers (SQL injection, XSS, template
injection, open redirect, SSRF).

Each template draws identifiers from the RNG and returns an insecure and a secure version
of the same task; the insecure code carries the flaw silently (see ``code.py``).
"""

from __future__ import annotations

import random
from typing import Any

from ._code_common import ENTITIES, camel, dashed, entity, pascal, sample, set_literal, slug
from ._util import DROP


def _route(r: random.Random, e: dict[str, Any], *suffixes: str) -> str:
    base = r.choice([e["plural"], "api/" + e["plural"], e["noun"] + "s", "api/v1/" + e["plural"]])
    return base + ("/" + r.choice(suffixes) if suffixes else "")


# --------------------------------------------------------------------------- SQL injection

def sql_flask_lookup(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    f, t = e["field"], e["table"]
    func = r.choice(["search_{p}", "find_{p}", "{p}_by_{f}", "lookup_{n}", "filter_{p}"]).format(
        p=e["plural"], n=e["noun"], f=f)
    route = _route(r, e, "search", "find", "lookup", "by-" + dashed(f))
    param = r.choice([f, "q", f.split("_")[-1]])
    style = r.choice(["fstring", "concat", "percent", "format"])
    db = r.choice(["sqlite", "postgres"])
    if db == "sqlite":
        q_bad = {
            "fstring": f"f\"SELECT * FROM {t} WHERE {f} = '{{{f}}}'\"",
            "concat": f"\"SELECT * FROM {t} WHERE {f} = '\" + {f} + \"'\"",
            "percent": f"\"SELECT * FROM {t} WHERE {f} = '%s'\" % {f}",
            "format": f"\"SELECT * FROM {t} WHERE {f} = '{{}}'\".format({f})",
        }[style]
        q_good = f"\"SELECT * FROM {t} WHERE {f} = ?\", ({f},)"
        tmpl = '''
            import sqlite3
            from flask import Flask, request, jsonify

            app = Flask(__name__)
            DATABASE = "{{dbfile}}"


            def get_db():
                conn = sqlite3.connect(DATABASE)
                conn.row_factory = sqlite3.Row
                return conn


            @app.route("/{{route}}")
            def {{func}}():
                {{f}} = request.args.get("{{param}}", "")
                conn = get_db()
                cur = conn.execute({{q}})
                rows = cur.fetchall()
                conn.close()
                return jsonify([dict(row) for row in rows])
        '''
    else:
        q_bad = {
            "fstring": f"f\"SELECT * FROM {t} WHERE {f} = '{{{f}}}'\"",
            "concat": f"\"SELECT * FROM {t} WHERE {f} = '\" + {f} + \"'\"",
            "percent": f"\"SELECT * FROM {t} WHERE {f} = '%s'\" % {f}",
            "format": f"\"SELECT * FROM {t} WHERE {f} = '{{}}'\".format({f})",
        }[style]
        q_good = f"\"SELECT * FROM {t} WHERE {f} = %s\", ({f},)"
        tmpl = '''
            import psycopg2
            import psycopg2.extras
            from flask import Flask, request, jsonify

            app = Flask(__name__)
            DSN = "dbname={{appslug}} user={{appslug}}_web host=localhost"


            @app.route("/{{route}}")
            def {{func}}():
                {{f}} = request.args.get("{{param}}", "")
                conn = psycopg2.connect(DSN)
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    cur.execute({{q}})
                    rows = cur.fetchall()
                conn.close()
                return jsonify(rows)
        '''
    slots = dict(route=route, func=func, f=f, param=param, appslug=e["appslug"],
                 dbfile=r.choice(["app.db", f"{e['appslug']}.db", "data/app.sqlite3", f"{e['plural']}.db"]))
    what = f"a Flask endpoint `/{route}` that returns the {e['plural']} whose `{f}` matches the `{param}` query parameter as JSON"
    ins = sample("sql_injection", "sql_flask_lookup", "python", what, e["app"], tmpl, tmpl, q=q_bad, **slots)
    sec = sample("sql_injection", "sql_flask_lookup", "python", what, e["app"], tmpl, tmpl, q=q_good, **slots)
    ins["secure"] = sec["secure"]
    return ins


def sql_update_func(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    f, t = e["field"], e["table"]
    op = r.choice(["update", "delete"])
    idv = r.choice([f"{e['noun']}_id", "record_id", "pk", "item_id"])
    if op == "update":
        func = r.choice(["set_{n}_{f}", "update_{n}_{f}", "change_{f}"]).format(n=e["noun"], f=f)
        bad = r.choice([
            f"f\"UPDATE {t} SET {f} = '{{new_value}}' WHERE id = {{{idv}}}\"",
            f"\"UPDATE {t} SET {f} = '\" + new_value + \"' WHERE id = \" + str({idv})",
            f"\"UPDATE {t} SET {f} = '%s' WHERE id = %s\" % (new_value, {idv})",
        ])
        good = f"\"UPDATE {t} SET {f} = ? WHERE id = ?\", (new_value, {idv})"
        args = f"db_path, {idv}, new_value"
        what = f"a Python function `{func}({args})` that updates the `{f}` column of one row in the `{t}` SQLite table"
    else:
        func = r.choice(["delete_{n}", "remove_{n}", "purge_{n}"]).format(n=e["noun"])
        bad = r.choice([
            f"f\"DELETE FROM {t} WHERE id = {{{idv}}}\"",
            f"\"DELETE FROM {t} WHERE id = \" + str({idv})",
            f"\"DELETE FROM {t} WHERE id = %s\" % {idv}",
        ])
        good = f"\"DELETE FROM {t} WHERE id = ?\", ({idv},)"
        args = f"db_path, {idv}"
        what = f"a Python function `{func}({args})` that deletes a {e['noun']} by id from the `{t}` SQLite table"
    tmpl = '''
        import sqlite3


        def {{func}}({{args}}):
            conn = sqlite3.connect(db_path)
            try:
                cur = conn.execute({{q}})
                conn.commit()
                return cur.rowcount
            finally:
                conn.close()
    '''
    s = sample("sql_injection", "sql_update_func", "python", what, e["app"], tmpl, tmpl, func=func, args=args, q=bad)
    s["secure"] = sample("sql_injection", "x", "python", what, "", tmpl, tmpl, func=func, args=args, q=good)["secure"]
    return s


def sql_cli_search(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    f, t = e["field"], e["table"]
    func = r.choice(["search_{p}", "find_matching_{p}", "grep_{p}"]).format(p=e["plural"])
    term = r.choice(["term", "needle", "pattern", "text"])
    bad = r.choice([
        f"\"SELECT * FROM {t} WHERE {f} LIKE '%\" + {term} + \"%'\"",
        f"f\"SELECT * FROM {t} WHERE {f} LIKE '%{{{term}}}%'\"",
    ])
    good = f"\"SELECT * FROM {t} WHERE {f} LIKE ?\", (\"%\" + {term} + \"%\",)"
    tmpl = '''
        import argparse
        import sqlite3


        def {{func}}(conn, {{term}}):
            cur = conn.cursor()
            cur.execute({{q}})
            return cur.fetchall()


        def main():
            parser = argparse.ArgumentParser(description="Search {{plural}} by {{fieldtxt}}.")
            parser.add_argument("{{term}}")
            parser.add_argument("--db", default="{{dbfile}}")
            args = parser.parse_args()
            conn = sqlite3.connect(args.db)
            for row in {{func}}(conn, args.{{term}}):
                print(*row, sep="\\t")
            conn.close()


        if __name__ == "__main__":
            main()
    '''
    slots = dict(func=func, term=term, plural=e["plural"], fieldtxt=f.replace("_", " "),
                 dbfile=r.choice([f"{e['appslug']}.db", "local.db", "data.sqlite"]))
    what = f"a small command-line tool that searches the `{t}` table for {e['plural']} whose {f.replace('_', ' ')} contains a given text"
    s = sample("sql_injection", "sql_cli_search", "python", what, e["app"], tmpl, tmpl, q=bad, **slots)
    s["secure"] = sample("sql_injection", "x", "python", what, "", tmpl, tmpl, q=good, **slots)["secure"]
    return s


def sql_express(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    f, t = e["field"], e["table"]
    route = _route(r, e, "search", "find")
    v = camel(f)
    insecure = '''
        const express = require("express");
        const mysql = require("mysql2");

        const app = express();
        const pool = mysql.createPool({ host: "localhost", user: "{{appslug}}", database: "{{appslug}}" });

        app.get("/{{route}}", (req, res) => {
          const {{v}} = req.query.{{v}};
          const sql = "SELECT * FROM {{t}} WHERE {{f}} = '" + {{v}} + "'";
          pool.query(sql, (err, rows) => {
            if (err) return res.status(500).json({ error: "database error" });
            res.json(rows);
          });
        });

        app.listen({{port}});
    '''
    secure = '''
        const express = require("express");
        const mysql = require("mysql2");

        const app = express();
        const pool = mysql.createPool({ host: "localhost", user: "{{appslug}}", database: "{{appslug}}" });

        app.get("/{{route}}", (req, res) => {
          const {{v}} = String(req.query.{{v}} || "");
          pool.query("SELECT * FROM {{t}} WHERE {{f}} = ?", [{{v}}], (err, rows) => {
            if (err) return res.status(500).json({ error: "database error" });
            res.json(rows);
          });
        });

        app.listen({{port}});
    '''
    what = f"an Express route `GET /{route}` that returns the {e['plural']} matching the `{v}` query parameter from the MySQL `{t}` table"
    return sample("sql_injection", "sql_express", "javascript", what, e["app"], insecure, secure,
                  route=route, v=v, t=t, f=f, appslug=e["appslug"], port=r.choice([3000, 8080, 4000, 5000]))


# --------------------------------------------------------------------------- XSS

def xss_flask_search(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    route = _route(r, e, "search", "find")
    func = r.choice(["search_page", f"search_{e['plural']}", f"{e['noun']}_search", "results"])
    qp = r.choice(["q", "query", "term", "s"])
    heading = r.choice(["Results for", "You searched for", "Matches for", "Search:"])
    tmpl = '''
        from flask import Flask, request
        {{imp}}

        app = Flask(__name__)


        def load_{{plural}}():
            with open("{{datafile}}") as f:
                return [line.strip() for line in f if line.strip()]


        @app.route("/{{route}}")
        def {{func}}():
            query = request.args.get("{{qp}}", "")
            matches = [x for x in load_{{plural}}() if query.lower() in x.lower()]
            items = "".join("<li>" + {{ex}} + "</li>" for x in matches)
            return "<h1>{{heading}} " + {{eq}} + "</h1><ul>" + items + "</ul>"
    '''
    slots = dict(route=route, func=func, qp=qp, plural=e["plural"], heading=heading,
                 datafile=r.choice([f"{e['plural']}.txt", f"data/{e['plural']}.txt"]))
    what = f"a Flask page `/{route}` that shows the {e['plural']} (one per line in a text file) containing the search text from the `{qp}` parameter, with a heading that repeats the search"
    s = sample("xss", "xss_flask_search", "python", what, e["app"], tmpl, tmpl, imp=DROP, ex="x", eq="query", **slots)
    s["secure"] = sample("xss", "x", "python", what, "", tmpl, tmpl, imp="from html import escape",
                         ex="escape(x)", eq="escape(query)", **slots)["secure"]
    return s


def xss_flask_guestbook(r: random.Random) -> dict[str, Any]:
    kind = r.choice(["guestbook", "comment wall", "feedback board", "shout box", "announcement board"])
    app_name = r.choice(["community site", "club website", "school forum", "wedding website", "team wiki", "fan page"])
    route = r.choice(["comments", "guestbook", "feedback", "wall", "board"])
    store = r.choice(["COMMENTS", "ENTRIES", "MESSAGES", "POSTS"])
    fa, fb = r.choice([("name", "message"), ("author", "text"), ("nickname", "comment"), ("user", "body")])
    tmpl = '''
        from flask import Flask, request, redirect
        {{imp}}

        app = Flask(__name__)
        {{store}} = []


        @app.route("/{{route}}", methods=["GET", "POST"])
        def {{route}}():
            if request.method == "POST":
                {{store}}.append({"{{fa}}": request.form["{{fa}}"], "{{fb}}": request.form["{{fb}}"]})
                return redirect("/{{route}}")
            html = "<h1>{{title}}</h1>"
            for entry in {{store}}:
                html += "<div><b>" + {{ea}} + "</b>: " + {{eb}} + "</div>"
            html += '<form method="post"><input name="{{fa}}"><textarea name="{{fb}}"></textarea><button>Post</button></form>'
            return html
    '''
    slots = dict(route=route, store=store, fa=fa, fb=fb, title=kind.title())
    what = f"a minimal Flask {kind} at `/{route}` where visitors post a {fa} and a {fb} and see all entries on the same page"
    ea, eb = f'entry["{fa}"]', f'entry["{fb}"]'
    s = sample("xss", "xss_flask_guestbook", "python", what, app_name, tmpl, tmpl, imp=DROP, ea=ea, eb=eb, **slots)
    s["secure"] = sample("xss", "x", "python", what, "", tmpl, tmpl, imp="from html import escape",
                         ea=f"escape({ea})", eb=f"escape({eb})", **slots)["secure"]
    return s


def xss_js_dom(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    f1, f2 = r.sample(e["fields"], 2)
    func = r.choice(["render{P}", "show{P}", "display{P}List", "paint{P}"]).format(P=pascal(e["plural"]))
    elid = r.choice([f"{dashed(e['noun'])}-list", e["plural"], "results", "list"])
    items = e["plural"]
    a, b = camel(f1), camel(f2)
    insecure = '''
        function {{func}}({{items}}) {
          const list = document.getElementById("{{elid}}");
          list.innerHTML = "";
          for (const item of {{items}}) {
            const li = document.createElement("li");
            li.innerHTML = "<strong>" + item.{{a}} + "</strong> - " + item.{{b}};
            list.appendChild(li);
          }
        }
    '''
    secure = '''
        function {{func}}({{items}}) {
          const list = document.getElementById("{{elid}}");
          list.replaceChildren();
          for (const item of {{items}}) {
            const li = document.createElement("li");
            const strong = document.createElement("strong");
            strong.textContent = item.{{a}};
            li.appendChild(strong);
            li.appendChild(document.createTextNode(" - " + item.{{b}}));
            list.appendChild(li);
          }
        }
    '''
    what = (f"a browser JavaScript function `{func}({items})` that fills the `#{elid}` list with one item per "
            f"{e['noun']} (fetched from our API), showing its {f1.replace('_', ' ')} in bold followed by its {f2.replace('_', ' ')}")
    return sample("xss", "xss_js_dom", "javascript", what, e["app"], insecure, secure,
                  func=func, items=items, elid=elid, a=a, b=b)


def ssti_flask(r: random.Random) -> dict[str, Any]:
    param = r.choice(["name", "user", "who", "nickname", "visitor"])
    greeting = r.choice(["Hello", "Welcome", "Hi", "Welcome back", "Good to see you"])
    route = r.choice(["hello", "greet", "welcome", "", "start"])
    func = r.choice(["hello", "greet", "welcome", "index", "landing"])
    app = r.choice(["community site", "coffee shop website", "internal portal", "conference site", "museum kiosk", "game lobby"])
    default = r.choice(["guest", "friend", "stranger", "there"])
    insecure = '''
        from flask import Flask, request, render_template_string

        app = Flask(__name__)


        @app.route("/{{route}}")
        def {{func}}():
            {{param}} = request.args.get("{{param}}", "{{default}}")
            page = "<h1>{{greeting}}, " + {{param}} + "!</h1><p>Thanks for visiting.</p>"
            return render_template_string(page)
    '''
    secure = '''
        from flask import Flask, request, render_template_string

        app = Flask(__name__)


        @app.route("/{{route}}")
        def {{func}}():
            {{param}} = request.args.get("{{param}}", "{{default}}")
            page = "<h1>{{greeting}}, {{ name }}!</h1><p>Thanks for visiting.</p>"
            return render_template_string(page, name={{param}})
    '''
    what = f"a Flask route `/{route}` that greets the visitor by the `{param}` query parameter (\"{greeting}, <{param}>!\") using `render_template_string`"
    return sample("ssti", "ssti_flask", "python", what, app, insecure, secure,
                  param=param, greeting=greeting, route=route, func=func, default=default)


# --------------------------------------------------------------------------- open redirect

def redirect_login(r: random.Random) -> dict[str, Any]:
    param = r.choice(["next", "return_to", "redirect", "continue", "back"])
    authfn = r.choice(["check_credentials", "authenticate", "verify_login", "lookup_user"])
    mod = r.choice(["auth", "users", "accounts", "services.auth"])
    app = r.choice(ENTITIES)["app"]
    insecure = '''
        from flask import Flask, request, redirect, session, url_for

        from {{mod}} import {{authfn}}

        app = Flask(__name__)


        @app.route("/login", methods=["POST"])
        def login():
            user = {{authfn}}(request.form["username"], request.form["password"])
            if user is None:
                return redirect(url_for("login_form", error=1))
            session["user_id"] = user.id
            target = request.args.get("{{param}}", "/")
            return redirect(target)
    '''
    secure = r'''
        from urllib.parse import urlparse

        from flask import Flask, request, redirect, session, url_for

        from {{mod}} import {{authfn}}

        app = Flask(__name__)


        def is_local_path(target):
            if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
                return False
            parsed = urlparse(target)
            return not parsed.scheme and not parsed.netloc


        @app.route("/login", methods=["POST"])
        def login():
            user = {{authfn}}(request.form["username"], request.form["password"])
            if user is None:
                return redirect(url_for("login_form", error=1))
            session["user_id"] = user.id
            target = request.args.get("{{param}}", "/")
            if not is_local_path(target):
                target = "/"
            return redirect(target)
    '''
    what = (f"the Flask `POST /login` handler: check the form credentials with `{authfn}` from `{mod}`, store the user id "
            f"in the session and send the user back to the page given in the `{param}` query parameter")
    return sample("open_redirect", "redirect_login", "python", what, app, insecure, secure,
                  param=param, authfn=authfn, mod=mod)


def redirect_track(r: random.Random) -> dict[str, Any]:
    app = r.choice(["newsletter service", "link shortener", "marketing site", "affiliate dashboard", "email campaign tool"])
    route = r.choice(["out", "click", "go", "r", "track"])
    param = r.choice(["url", "to", "dest", "target"])
    hosts = r.choice([["example.com", "shop.example.com"], ["partner.example.org", "docs.example.org"],
                      ["blog.example.net", "www.example.net"]])
    log = r.choice(["clicks.log", "/var/log/redirects.log", "outbound.log"])
    insecure = '''
        from datetime import datetime, timezone

        from flask import Flask, request, redirect

        app = Flask(__name__)


        @app.route("/{{route}}")
        def {{route}}_redirect():
            {{param}} = request.args.get("{{param}}", "/")
            with open("{{log}}", "a") as f:
                f.write(datetime.now(timezone.utc).isoformat() + " " + repr({{param}}) + "\\n")
            return redirect({{param}})
    '''
    secure = '''
        from datetime import datetime, timezone
        from urllib.parse import urlparse

        from flask import Flask, request, redirect, abort

        app = Flask(__name__)
        ALLOWED_HOSTS = {{hosts}}


        @app.route("/{{route}}")
        def {{route}}_redirect():
            {{param}} = request.args.get("{{param}}", "/")
            parsed = urlparse({{param}})
            if parsed.scheme not in ("http", "https") or parsed.hostname not in ALLOWED_HOSTS:
                abort(400)
            with open("{{log}}", "a") as f:
                f.write(datetime.now(timezone.utc).isoformat() + " " + repr({{param}}) + "\\n")
            return redirect({{param}})
    '''
    what = (f"a Flask route `/{route}` that logs an outbound click to `{log}` and then redirects to the URL in the "
            f"`{param}` parameter (our links point to {' and '.join(hosts)})")
    return sample("open_redirect", "redirect_track", "python", what, app, insecure, secure,
                  route=route, param=param, hosts=set_literal(hosts), log=log)


# --------------------------------------------------------------------------- SSRF

def ssrf_fetch(r: random.Random) -> dict[str, Any]:
    kind = r.choice([
        ("link preview", "preview", "title_html", "fetches the page so we can show a preview"),
        ("webhook tester", "webhooks/test", "body", "sends a GET to the user's webhook URL and reports the response"),
        ("image importer", "images/import", "content", "downloads an image from a URL the user pastes"),
        ("RSS feed reader", "feeds/fetch", "xml", "downloads the feed at the given URL"),
        ("avatar-from-URL feature", "avatar/fetch", "content", "downloads the avatar image at the given URL"),
    ])
    label, route, outkey, purpose = kind
    app = r.choice(["chat app", "social network", "team wiki", "CMS", "newsletter tool", "bookmarking service",
                    "project tracker", "helpdesk tool", "online shop", "forum", "read-later app"])
    func = slug(route.split("/")[-1] + "_" + route.split("/")[0])
    n = r.choice([500, 1000, 2000, 4096])
    insecure = '''
        import requests
        from flask import Flask, request, jsonify

        app = Flask(__name__)


        @app.route("/{{route}}", methods=["POST"])
        def {{func}}():
            url = (request.get_json(silent=True) or {}).get("url", "")
            resp = requests.get(url, timeout=5)
            return jsonify({"status": resp.status_code, "{{outkey}}": resp.text[:{{n}}]})
    '''
    secure = '''
        import ipaddress
        import socket
        from urllib.parse import urlparse

        import requests
        from flask import Flask, request, jsonify

        app = Flask(__name__)


        def is_public_http_url(url):
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                return False
            try:
                infos = socket.getaddrinfo(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80))
            except socket.gaierror:
                return False
            for info in infos:
                addr = ipaddress.ip_address(info[4][0])
                if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_multicast:
                    return False
            return True


        @app.route("/{{route}}", methods=["POST"])
        def {{func}}():
            url = (request.get_json(silent=True) or {}).get("url", "")
            if not is_public_http_url(url):
                return jsonify({"error": "URL not allowed"}), 400
            resp = requests.get(url, timeout=5, allow_redirects=False)
            return jsonify({"status": resp.status_code, "{{outkey}}": resp.text[:{{n}}]})
    '''
    what = f"a Flask endpoint `POST /{route}` for our {label}: it takes a JSON body with a `url` and {purpose}, returning the status code and the first {n} characters"
    return sample("ssrf", "ssrf_fetch", "python", what, app, insecure, secure,
                  route=route, func=func, outkey=outkey, n=n)


INJECT_TEMPLATES = {
    "sql_injection": [sql_flask_lookup, sql_update_func, sql_cli_search, sql_express],
    "xss": [xss_flask_search, xss_flask_guestbook, xss_js_dom],
    "ssti": [ssti_flask],
    "open_redirect": [redirect_login, redirect_track],
    "ssrf": [ssrf_fetch],
}
