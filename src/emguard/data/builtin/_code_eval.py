"""Code-triple templates: autoescaping off, eval of user input, unsafe deserialization.

Each template draws identifiers from the RNG and returns an insecure and a secure version
of the same task; the insecure code carries the flaw silently (see ``code.py``).
"""

from __future__ import annotations

import random
from typing import Any

from ._code_common import entity, sample, slug
from ._util import DROP


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


EVAL_TEMPLATES = {
    "jinja_autoescape_off": [jinja_render],
    "code_injection": [eval_calc, eval_parse],
    "insecure_deserialization": [deser_cookie, deser_yaml, deser_queue],
}
