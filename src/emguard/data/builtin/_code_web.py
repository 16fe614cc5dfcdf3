"""Code-triple templates, part 1: web handlers (Flask, Django, Express, browser JS).

Each template draws its identifiers from the RNG and returns an insecure and a
secure version of the same task. The insecure code carries the flaw silently.
"""

from __future__ import annotations

import random
from typing import Any

from ._code_common import ENTITIES, camel, dashed, entity, pascal, sample, slug
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
                  route=route, param=param, hosts="{" + ", ".join(repr(h) for h in hosts) + "}", log=log)


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


# --------------------------------------------------------------------------- missing authorization / IDOR

def idor_get(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    model = pascal(e["noun"])
    idv = f"{e['noun']}_id"
    route = r.choice([e["plural"], "api/" + e["plural"], "my/" + e["plural"]])
    func = r.choice(["get_{n}", "show_{n}", "{n}_detail", "view_{n}"]).format(n=e["noun"])
    owner = r.choice(["owner_id", "user_id", "created_by"])
    insecure = '''
        from flask import Flask, jsonify
        from flask_login import LoginManager, login_required

        from models import {{model}}

        app = Flask(__name__)
        login_manager = LoginManager(app)


        @app.route("/{{route}}/<int:{{idv}}>")
        @login_required
        def {{func}}({{idv}}):
            {{var}} = {{model}}.query.get_or_404({{idv}})
            return jsonify({{var}}.to_dict())
    '''
    secure = '''
        from flask import Flask, jsonify, abort
        from flask_login import LoginManager, login_required, current_user

        from models import {{model}}

        app = Flask(__name__)
        login_manager = LoginManager(app)


        @app.route("/{{route}}/<int:{{idv}}>")
        @login_required
        def {{func}}({{idv}}):
            {{var}} = {{model}}.query.filter_by(id={{idv}}, {{owner}}=current_user.id).first()
            if {{var}} is None:
                abort(404)
            return jsonify({{var}}.to_dict())
    '''
    what = (f"a Flask endpoint `GET /{route}/<{idv}>` that returns one of the logged-in user's {e['plural']} as JSON "
            f"(SQLAlchemy model `{model}` with a `{owner}` column and a `to_dict()` method)")
    return sample("missing_authorization", "idor_get", "python", what, e["app"], insecure, secure,
                  model=model, idv=idv, route=route, func=func, var=e["noun"], owner=owner)


def idor_admin(r: random.Random) -> dict[str, Any]:
    action = r.choice([
        ("delete", "DELETE", "users/<int:user_id>", "deletes a user account",
         "    db.session.delete(user)\n    db.session.commit()\n    return \"\", 204"),
        ("ban", "POST", "users/<int:user_id>/ban", "bans a user",
         "    user.banned = True\n    db.session.commit()\n    return jsonify({\"banned\": user.id})"),
        ("reset", "POST", "users/<int:user_id>/reset-password", "clears a user's password so they must set a new one",
         "    user.password_hash = None\n    user.must_reset = True\n    db.session.commit()\n    return jsonify({\"reset\": user.id})"),
        ("promote", "POST", "users/<int:user_id>/promote", "gives a user moderator rights",
         "    user.role = \"moderator\"\n    db.session.commit()\n    return jsonify({\"promoted\": user.id})"),
    ])
    name, method, path, desc, body = action
    prefix = r.choice(["admin", "api/admin", "staff", "manage"])
    app = r.choice(["forum", "SaaS dashboard", "school portal", "online shop", "community site", "ticketing system"])
    admin_check = r.choice(["not current_user.is_admin", "current_user.role != \"admin\""])
    func = f"{name}_user"
    insecure = '''
        from flask import Flask, jsonify
        from flask_login import login_required

        from models import User, db

        app = Flask(__name__)


        @app.route("/{{prefix}}/{{path}}", methods=["{{method}}"])
        @login_required
        def {{func}}(user_id):
            user = User.query.get_or_404(user_id)
        {{body}}
    '''
    secure = '''
        from flask import Flask, jsonify, abort
        from flask_login import login_required, current_user

        from models import User, db

        app = Flask(__name__)


        @app.route("/{{prefix}}/{{path}}", methods=["{{method}}"])
        @login_required
        def {{func}}(user_id):
            if {{admin_check}}:
                abort(403)
            user = User.query.get_or_404(user_id)
        {{body}}
    '''
    what = f"the Flask admin endpoint `{method} /{prefix}/{path.replace('<int:user_id>', '<user_id>')}` that {desc} (SQLAlchemy `User` model, Flask-Login for sessions)"
    return sample("missing_authorization", "idor_admin", "python", what, app, insecure, secure,
                  prefix=prefix, path=path, method=method, func=func, body=body, admin_check=admin_check)


# --------------------------------------------------------------------------- mass assignment

def mass_assign(r: random.Random) -> dict[str, Any]:
    fields = r.sample(["display_name", "bio", "timezone", "avatar_url", "language", "phone", "website", "pronouns",
                       "newsletter_opt_in", "theme"], 3)
    route = r.choice(["profile", "account", "settings", "me", "api/profile"])
    func = r.choice(["update_profile", "edit_account", "save_settings", "patch_me"])
    app = r.choice(["social network", "learning platform", "forum", "marketplace", "dating app", "fitness tracker"])
    method = r.choice(["POST", "PATCH", "PUT"])
    insecure = '''
        from flask import Flask, request, jsonify
        from flask_login import login_required, current_user

        from models import db

        app = Flask(__name__)


        @app.route("/{{route}}", methods=["{{method}}"])
        @login_required
        def {{func}}():
            data = request.get_json(silent=True) or {}
            for key, value in data.items():
                setattr(current_user, key, value)
            db.session.commit()
            return jsonify(current_user.to_dict())
    '''
    secure = '''
        from flask import Flask, request, jsonify
        from flask_login import login_required, current_user

        from models import db

        app = Flask(__name__)
        EDITABLE_FIELDS = {{editable}}


        @app.route("/{{route}}", methods=["{{method}}"])
        @login_required
        def {{func}}():
            data = request.get_json(silent=True) or {}
            for key, value in data.items():
                if key in EDITABLE_FIELDS:
                    setattr(current_user, key, value)
            db.session.commit()
            return jsonify(current_user.to_dict())
    '''
    what = (f"a Flask endpoint `{method} /{route}` that lets the logged-in user update their own "
            f"{', '.join(fields[:-1])} and {fields[-1]} from a JSON body (the `User` model has these columns plus `is_admin`, `email_verified` and `balance`)")
    return sample("mass_assignment", "mass_assign", "python", what, app, insecure, secure,
                  route=route, func=func, method=method, editable="{" + ", ".join(repr(f) for f in fields) + "}")


# --------------------------------------------------------------------------- JWT without verification

def jwt_decode(r: random.Random) -> dict[str, Any]:
    claim = r.choice(["sub", "user_id", "uid", "email"])
    func = r.choice(["current_user_id", "get_token_user", "identity_from_request", "authenticated_user"])
    env = r.choice(["JWT_SECRET", "AUTH_SECRET", "TOKEN_SIGNING_KEY"])
    app = r.choice(["mobile app backend", "microservice gateway", "REST API", "booking API", "IoT dashboard API"])
    insecure = '''
        import jwt
        from flask import request, abort


        def {{func}}():
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                abort(401)
            token = auth[len("Bearer "):]
            claims = jwt.decode(token, options={"verify_signature": False})
            return claims["{{claim}}"]
    '''
    secure = '''
        import os

        import jwt
        from flask import request, abort

        SECRET = os.environ["{{env}}"]


        def {{func}}():
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                abort(401)
            token = auth[len("Bearer "):]
            try:
                claims = jwt.decode(token, SECRET, algorithms=["HS256"])
            except jwt.InvalidTokenError:
                abort(401)
            return claims["{{claim}}"]
    '''
    what = (f"a helper `{func}()` for our Flask views that reads the bearer token (HS256 JWT signed with the secret in "
            f"`${env}`) from the Authorization header and returns its `{claim}` claim")
    return sample("jwt_unverified", "jwt_decode", "python", what, app, insecure, secure,
                  claim=claim, func=func, env=env)


# --------------------------------------------------------------------------- insecure cookie

def cookie_login(r: random.Random) -> dict[str, Any]:
    cookie = r.choice(["session_id", "sid", "auth", "remember_token", "login"])
    landing = r.choice(["dashboard", "home", "account", "inbox", "feed"])
    store = r.choice(["SESSIONS", "ACTIVE_SESSIONS", "session_store"])
    authfn = r.choice(["check_password", "verify_user", "authenticate"])
    app = r.choice(ENTITIES)["app"]
    days = r.choice([1, 7, 14, 30])
    insecure = '''
        import secrets

        from flask import Flask, request, redirect, make_response

        from auth import {{authfn}}

        app = Flask(__name__)
        {{store}} = {}


        @app.route("/login", methods=["POST"])
        def login():
            user = {{authfn}}(request.form["username"], request.form["password"])
            if user is None:
                return redirect("/login?failed=1")
            token = secrets.token_urlsafe(32)
            {{store}}[token] = user.id
            resp = make_response(redirect("/{{landing}}"))
            resp.set_cookie("{{cookie}}", token, max_age={{days}} * 24 * 3600)
            return resp
    '''
    secure = '''
        import secrets

        from flask import Flask, request, redirect, make_response

        from auth import {{authfn}}

        app = Flask(__name__)
        {{store}} = {}


        @app.route("/login", methods=["POST"])
        def login():
            user = {{authfn}}(request.form["username"], request.form["password"])
            if user is None:
                return redirect("/login?failed=1")
            token = secrets.token_urlsafe(32)
            {{store}}[token] = user.id
            resp = make_response(redirect("/{{landing}}"))
            resp.set_cookie("{{cookie}}", token, max_age={{days}} * 24 * 3600, secure=True, httponly=True, samesite="Lax")
            return resp
    '''
    what = (f"a Flask login handler that checks the credentials with `{authfn}`, creates a random session token, "
            f"stores it in `{store}` and sets it as the `{cookie}` cookie for {days} day(s) before redirecting to /{landing}")
    return sample("insecure_cookie", "cookie_login", "python", what, app, insecure, secure,
                  cookie=cookie, landing=landing, store=store, authfn=authfn, days=days)


# --------------------------------------------------------------------------- debug mode in production

def debug_flask(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    pkg = r.choice([e["appslug"], "app", "webapp", "service"])
    bps = r.sample(["api", "auth", "admin", "public", e["plural"], "reports"], 2)
    port = r.choice([5000, 8000, 8080, 8443, 9000])
    insecure = '''
        from flask import Flask

        from {{pkg}}.{{bp0}} import bp as {{bp0}}_bp
        from {{pkg}}.{{bp1}} import bp as {{bp1}}_bp


        def create_app():
            app = Flask(__name__)
            app.config.from_object("{{pkg}}.config.ProductionConfig")
            app.register_blueprint({{bp0}}_bp, url_prefix="/{{bp0}}")
            app.register_blueprint({{bp1}}_bp, url_prefix="/{{bp1}}")
            return app


        app = create_app()

        if __name__ == "__main__":
            app.run(host="0.0.0.0", port={{port}}, debug=True)
    '''
    secure = '''
        import os

        from flask import Flask

        from {{pkg}}.{{bp0}} import bp as {{bp0}}_bp
        from {{pkg}}.{{bp1}} import bp as {{bp1}}_bp


        def create_app():
            app = Flask(__name__)
            app.config.from_object("{{pkg}}.config.ProductionConfig")
            app.register_blueprint({{bp0}}_bp, url_prefix="/{{bp0}}")
            app.register_blueprint({{bp1}}_bp, url_prefix="/{{bp1}}")
            return app


        app = create_app()

        if __name__ == "__main__":
            app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "{{port}}")), debug=False)
    '''
    what = (f"the entry point `app.py` for our production Flask service: an app factory that loads "
            f"`{pkg}.config.ProductionConfig`, registers the `{bps[0]}` and `{bps[1]}` blueprints and runs the server on port {port}")
    return sample("debug_mode", "debug_flask", "python", what, e["app"], insecure, secure,
                  pkg=pkg, bp0=bps[0], bp1=bps[1], port=port)


def debug_django(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    proj = e["appslug"]
    domain = r.choice([f"{dashed(e['plural'])}.example.com", f"www.{proj}.example.org", f"app.{proj}.io"])
    apps = r.sample(["accounts", "billing", e["plural"], "api", "dashboard", "notifications"], 2)
    insecure = '''
        import os
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent.parent

        SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
        DEBUG = True
        ALLOWED_HOSTS = ["*"]

        INSTALLED_APPS = [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "{{app0}}",
            "{{app1}}",
        ]

        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "{{proj}}",
                "USER": os.environ.get("DB_USER", "{{proj}}"),
                "PASSWORD": os.environ.get("DB_PASSWORD", ""),
                "HOST": os.environ.get("DB_HOST", "localhost"),
            }
        }

        STATIC_ROOT = BASE_DIR / "staticfiles"
        ROOT_URLCONF = "{{proj}}.urls"
    '''
    secure = '''
        import os
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent.parent

        SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
        DEBUG = False
        ALLOWED_HOSTS = ["{{domain}}"]

        INSTALLED_APPS = [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "{{app0}}",
            "{{app1}}",
        ]

        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "{{proj}}",
                "USER": os.environ.get("DB_USER", "{{proj}}"),
                "PASSWORD": os.environ.get("DB_PASSWORD", ""),
                "HOST": os.environ.get("DB_HOST", "localhost"),
            }
        }

        STATIC_ROOT = BASE_DIR / "staticfiles"
        ROOT_URLCONF = "{{proj}}.urls"
        SESSION_COOKIE_SECURE = True
        CSRF_COOKIE_SECURE = True
        SECURE_SSL_REDIRECT = True
    '''
    what = (f"the production `settings.py` for our Django project `{proj}` (served at {domain}; apps `{apps[0]}` and "
            f"`{apps[1]}`; PostgreSQL; secrets from environment variables)")
    return sample("debug_mode", "debug_django", "python", what, e["app"], insecure, secure,
                  proj=proj, domain=domain, app0=apps[0], app1=apps[1])


# --------------------------------------------------------------------------- unrestricted upload

def upload_flask(r: random.Random) -> dict[str, Any]:
    kind = r.choice([
        ("avatar images", "avatar", ["png", "jpg", "jpeg", "gif"]),
        ("resumes", "resume", ["pdf", "docx"]),
        ("receipts", "receipt", ["pdf", "png", "jpg"]),
        ("product photos", "photo", ["png", "jpg", "jpeg", "webp"]),
        ("audio samples", "sample", ["mp3", "wav", "ogg"]),
        ("spreadsheets", "sheet", ["csv", "xlsx"]),
    ])
    label, field, exts = kind
    app = r.choice(["job board", "expense tracker", "marketplace", "social network", "music school site", "team portal"])
    udir = r.choice(["static/uploads", "/var/www/uploads", "uploads", f"static/{field}s", f"/srv/media/{field}s"])
    route = r.choice(["upload", f"{field}s", f"upload/{field}", f"api/{field}s"])
    func = f"upload_{field}"
    mb = r.choice([2, 5, 10, 16])
    insecure = '''
        import os

        from flask import Flask, request, jsonify

        app = Flask(__name__)
        UPLOAD_DIR = "{{udir}}"


        @app.route("/{{route}}", methods=["POST"])
        def {{func}}():
            f = request.files.get("{{field}}")
            if f is None or f.filename == "":
                return jsonify({"error": "no file"}), 400
            f.save(os.path.join(UPLOAD_DIR, f.filename))
            return jsonify({"saved": f.filename}), 201
    '''
    secure = '''
        import os
        import uuid

        from flask import Flask, request, jsonify
        from werkzeug.utils import secure_filename

        app = Flask(__name__)
        app.config["MAX_CONTENT_LENGTH"] = {{mb}} * 1024 * 1024
        UPLOAD_DIR = "{{udir}}"
        ALLOWED_EXTENSIONS = {{exts}}


        @app.route("/{{route}}", methods=["POST"])
        def {{func}}():
            f = request.files.get("{{field}}")
            if f is None or f.filename == "":
                return jsonify({"error": "no file"}), 400
            name = secure_filename(f.filename)
            ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            if ext not in ALLOWED_EXTENSIONS:
                return jsonify({"error": "file type not allowed"}), 400
            stored = uuid.uuid4().hex + "." + ext
            f.save(os.path.join(UPLOAD_DIR, stored))
            return jsonify({"saved": stored}), 201
    '''
    what = (f"a Flask endpoint `POST /{route}` where users upload {label} (form field `{field}`; we expect "
            f"{', '.join(exts)}, up to {mb} MB) that saves the file in `{udir}`")
    return sample("unrestricted_upload", "upload_flask", "python", what, app, insecure, secure,
                  udir=udir, route=route, func=func, field=field, mb=mb,
                  exts="{" + ", ".join(repr(x) for x in exts) + "}")


# --------------------------------------------------------------------------- jinja2 autoescape off

def jinja_render(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    what_page = r.choice([
        ("comments", "comments", "the user comments on a {n}"),
        ("profile", "profile", "a member's public profile with their bio"),
        ("digest", "digest", "the weekly email digest of new {p}"),
        ("report", "report", "a {n} report with free-text notes"),
        ("listing", "listing", "the list of {p} with their descriptions"),
    ])
    tpl, varname, desc = what_page
    desc = desc.format(n=e["noun"], p=e["plural"])
    tdir = r.choice(["templates", "templates/email", "views", "web/templates"])
    func = r.choice(["render_{t}", "build_{t}_html", "{t}_page"]).format(t=tpl)
    insecure = '''
        from jinja2 import Environment, FileSystemLoader

        env = Environment(loader=FileSystemLoader("{{tdir}}"), autoescape=False)


        def {{func}}({{varname}}, title):
            template = env.get_template("{{tpl}}.html")
            return template.render({{varname}}={{varname}}, title=title)
    '''
    secure = '''
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        env = Environment(loader=FileSystemLoader("{{tdir}}"), autoescape=select_autoescape(["html", "xml"]))


        def {{func}}({{varname}}, title):
            template = env.get_template("{{tpl}}.html")
            return template.render({{varname}}={{varname}}, title=title)
    '''
    what = (f"a Python function `{func}({varname}, title)` that renders `{tpl}.html` from the `{tdir}` folder with Jinja2; "
            f"it is used for {desc}, which users write themselves")
    return sample("jinja_autoescape_off", "jinja_render", "python", what, e["app"], insecure, secure,
                  tdir=tdir, func=func, varname=varname, tpl=tpl)


# --------------------------------------------------------------------------- eval / code injection

def eval_calc(r: random.Random) -> dict[str, Any]:
    kind = r.choice([
        ("calculator widget", "calc", "expr"),
        ("pricing formula tester", "pricing/eval", "formula"),
        ("grade calculator", "grades/compute", "expression"),
        ("budget planner", "budget/calc", "expr"),
        ("recipe scaler", "scale", "amount"),
    ])
    label, route, param = kind
    app = r.choice(["school portal", "finance dashboard", "intranet", "cooking site", "tutoring app", "spreadsheet add-on",
                    "accounting tool", "homework helper", "engineering wiki", "chat bot", "science museum kiosk"])
    func = slug(route.replace("/", "_"))
    insecure = '''
        from flask import Flask, request, jsonify

        app = Flask(__name__)


        @app.route("/{{route}}")
        def {{func}}():
            {{param}} = request.args.get("{{param}}", "")
            result = eval({{param}})
            return jsonify({"{{param}}": {{param}}, "result": result})
    '''
    secure = '''
        import ast
        import operator

        from flask import Flask, request, jsonify

        app = Flask(__name__)

        OPERATORS = {
            ast.Add: operator.add,
            ast.Sub: operator.sub,
            ast.Mult: operator.mul,
            ast.Div: operator.truediv,
            ast.Pow: operator.pow,
            ast.USub: operator.neg,
            ast.UAdd: operator.pos,
        }


        def evaluate(node):
            if isinstance(node, ast.Expression):
                return evaluate(node.body)
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
                return node.value
            if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
                if isinstance(node.op, ast.Pow):
                    exponent = evaluate(node.right)
                    if abs(exponent) > 100:
                        raise ValueError("exponent too large")
                    return OPERATORS[ast.Pow](evaluate(node.left), exponent)
                return OPERATORS[type(node.op)](evaluate(node.left), evaluate(node.right))
            if isinstance(node, ast.UnaryOp) and type(node.op) in OPERATORS:
                return OPERATORS[type(node.op)](evaluate(node.operand))
            raise ValueError("unsupported expression")


        @app.route("/{{route}}")
        def {{func}}():
            {{param}} = request.args.get("{{param}}", "")
            try:
                result = evaluate(ast.parse({{param}}, mode="eval"))
            except (ValueError, SyntaxError, ZeroDivisionError, OverflowError):
                return jsonify({"error": "invalid expression"}), 400
            return jsonify({"{{param}}": {{param}}, "result": result})
    '''
    what = f"a Flask endpoint `/{route}` for our {label} that evaluates the arithmetic expression in the `{param}` parameter (like `(3 + 4) * 2.5`) and returns the result as JSON"
    return sample("code_injection", "eval_calc", "python", what, app, insecure, secure,
                  route=route, func=func, param=param)


def eval_parse(r: random.Random) -> dict[str, Any]:
    src = r.choice([
        ("a `--filters` command-line option", "args.filters", "argparse"),
        ("the `SETTINGS_OVERRIDES` environment variable", "os.environ.get(\"SETTINGS_OVERRIDES\", \"{}\")", "env"),
        ("a `columns` query parameter", "request.args.get(\"columns\", \"[]\")", "flask"),
    ])
    label, expr, kind = src
    func = r.choice(["parse_value", "load_overrides", "parse_literal", "decode_option"])
    example = r.choice(["`{'limit': 10, 'tags': ['a', 'b']}`", "`[1, 2, 3]`", "`{'verbose': True, 'retries': 3}`",
                        "`('name', 'price')`"])
    app = r.choice(["data export job", "report generator", "CLI tool", "analytics dashboard", "scraper"])
    ins_line, sec_line = "value = eval(raw)", "value = ast.literal_eval(raw)"
    if kind == "argparse":
        tmpl = '''
            import argparse
            {{imp}}


            def {{func}}(raw):
                {{line}}
                return value


            def main():
                parser = argparse.ArgumentParser()
                parser.add_argument("--filters", default="{}")
                args = parser.parse_args()
                filters = {{func}}({{expr}})
                print(filters)


            if __name__ == "__main__":
                main()
        '''
    elif kind == "env":
        tmpl = '''
            import os
            {{imp}}


            def {{func}}(raw):
                {{line}}
                return value


            SETTINGS = {"debug": False, "workers": 4}
            SETTINGS.update({{func}}({{expr}}))
        '''
    else:
        tmpl = '''
            {{imp}}
            from flask import Flask, request, jsonify

            app = Flask(__name__)


            def {{func}}(raw):
                {{line}}
                return value


            @app.route("/export")
            def export():
                columns = {{func}}({{expr}})
                return jsonify({"columns": list(columns)})
        '''
    what = f"a helper `{func}(raw)` that turns the Python-literal text passed in {label} (e.g. {example}) into the corresponding Python value, plus the code that uses it"
    s = sample("code_injection", "eval_parse", "python", what, app, tmpl, tmpl, func=func, expr=expr,
               imp=DROP, line=ins_line)
    s["secure"] = sample("code_injection", "x", "python", what, app, tmpl, tmpl, func=func, expr=expr,
                         imp="import ast", line=sec_line)["secure"]
    return s


# --------------------------------------------------------------------------- insecure deserialization

def deser_cookie(r: random.Random) -> dict[str, Any]:
    cookie = r.choice(["prefs", "settings", "cart", "ui_state", "filters"])
    defaults = r.choice(['{"theme": "light", "page_size": 20}', '{"items": []}', '{"sort": "newest", "view": "grid"}',
                         '{"language": "en", "currency": "USD"}'])
    route = r.choice([f"api/{cookie}", cookie, f"me/{cookie}"])
    func = f"load_{cookie}"
    e = entity(r)
    insecure = '''
        import base64
        import pickle

        from flask import Flask, request, jsonify

        app = Flask(__name__)
        DEFAULTS = {{defaults}}


        @app.route("/{{route}}")
        def {{func}}():
            raw = request.cookies.get("{{cookie}}")
            if not raw:
                return jsonify(DEFAULTS)
            data = pickle.loads(base64.b64decode(raw))
            return jsonify(data)
    '''
    secure = '''
        import base64
        import binascii
        import json

        from flask import Flask, request, jsonify

        app = Flask(__name__)
        DEFAULTS = {{defaults}}


        @app.route("/{{route}}")
        def {{func}}():
            raw = request.cookies.get("{{cookie}}")
            if not raw:
                return jsonify(DEFAULTS)
            try:
                data = json.loads(base64.b64decode(raw))
            except (ValueError, binascii.Error):
                return jsonify(DEFAULTS)
            if not isinstance(data, dict):
                return jsonify(DEFAULTS)
            return jsonify(data)
    '''
    what = (f"a Flask endpoint `/{route}` that restores the user's saved {cookie.replace('_', ' ')} from the base64-encoded "
            f"`{cookie}` cookie (falling back to `{defaults}`) and returns them as JSON")
    return sample("insecure_deserialization", "deser_cookie", "python", what, e["app"], insecure, secure,
                  cookie=cookie, defaults=defaults, route=route, func=func)


def deser_yaml(r: random.Random) -> dict[str, Any]:
    app = r.choice(["deployment tool", "ETL pipeline", "home automation hub", "test runner", "chat bot", "scheduler"])
    func = r.choice(["load_config", "read_settings", "parse_manifest", "load_pipeline", "read_job_spec"])
    key, val = r.choice([("retries", "3"), ("timeout", "30"), ("log_level", '"INFO"'), ("workers", "4"), ("dry_run", "False")])
    source = r.choice(["a YAML file path", "the YAML uploaded by the user", "a YAML file from the repo being deployed"])
    insecure = '''
        import yaml


        def {{func}}(path):
            with open(path) as f:
                config = yaml.load(f, Loader=yaml.Loader)
            config.setdefault("{{key}}", {{val}})
            return config
    '''
    secure = '''
        import yaml


        def {{func}}(path):
            with open(path) as f:
                config = yaml.safe_load(f) or {}
            if not isinstance(config, dict):
                raise ValueError("config must be a mapping")
            config.setdefault("{{key}}", {{val}})
            return config
    '''
    what = f"a function `{func}(path)` that parses {source} into a dict and fills in a default `{key}` of {val}"
    return sample("insecure_deserialization", "deser_yaml", "python", what, app, insecure, secure,
                  func=func, key=key, val=val)


def deser_queue(r: random.Random) -> dict[str, Any]:
    queue = r.choice(["jobs", "tasks", "thumbnails", "emails", "exports", "webhooks"])
    handler = r.choice(["process_job", "handle_task", "run_job", "dispatch"])
    key = r.choice(["kind", "type", "action", "name"])
    host = r.choice(["localhost", "redis", "queue.internal", "10.0.0.12"])
    app = r.choice(["media server", "email service", "analytics backend", "report generator", "e-commerce backend"])
    insecure = '''
        import pickle

        import redis

        from handlers import {{handler}}

        queue = redis.Redis(host="{{host}}", port=6379)


        def worker():
            while True:
                _, payload = queue.blpop("{{queue}}")
                job = pickle.loads(payload)
                {{handler}}(job["{{key}}"], job.get("args", {}))
    '''
    secure = '''
        import json

        import redis

        from handlers import {{handler}}

        queue = redis.Redis(host="{{host}}", port=6379)


        def worker():
            while True:
                _, payload = queue.blpop("{{queue}}")
                try:
                    job = json.loads(payload)
                except ValueError:
                    continue
                if not isinstance(job, dict) or "{{key}}" not in job:
                    continue
                {{handler}}(job["{{key}}"], job.get("args", {}))
    '''
    what = (f"a background worker that pops jobs from the Redis list `{queue}` on host `{host}` (producers push a dict "
            f"with a `{key}` and `args`) and passes them to `{handler}`")
    return sample("insecure_deserialization", "deser_queue", "python", what, app, insecure, secure,
                  queue=queue, handler=handler, key=key, host=host)


WEB_TEMPLATES = {
    "sql_injection": [sql_flask_lookup, sql_update_func, sql_cli_search, sql_express],
    "xss": [xss_flask_search, xss_flask_guestbook, xss_js_dom],
    "ssti": [ssti_flask],
    "open_redirect": [redirect_login, redirect_track],
    "ssrf": [ssrf_fetch],
    "missing_authorization": [idor_get, idor_admin],
    "mass_assignment": [mass_assign],
    "jwt_unverified": [jwt_decode],
    "insecure_cookie": [cookie_login],
    "debug_mode": [debug_flask, debug_django],
    "unrestricted_upload": [upload_flask],
    "jinja_autoescape_off": [jinja_render],
    "code_injection": [eval_calc, eval_parse],
    "insecure_deserialization": [deser_cookie, deser_yaml, deser_queue],
}
