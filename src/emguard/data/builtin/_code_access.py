"""Code-triple templates: access control and configuration flaws (IDOR, missing admin check,
mass assignment, unverified JWT, cookie flags, debug mode, unrestricted upload).

Each template draws identifiers from the RNG and returns an insecure and a secure version
of the same task; the insecure code carries the flaw silently (see ``code.py``).
"""

from __future__ import annotations

import random
from typing import Any

from ._code_common import ENTITIES, dashed, entity, pascal, sample, set_literal


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
                  route=route, func=func, method=method, editable=set_literal(fields))


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
                  exts=set_literal(exts))


ACCESS_TEMPLATES = {
    "missing_authorization": [idor_get, idor_admin],
    "mass_assignment": [mass_assign],
    "jwt_unverified": [jwt_decode],
    "insecure_cookie": [cookie_login],
    "debug_mode": [debug_flask, debug_django],
    "unrestricted_upload": [upload_flask],
}
