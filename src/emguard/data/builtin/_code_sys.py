"""Code-triple templates, part 2: files, processes, crypto, secrets, C and shell."""

from __future__ import annotations

import random
import string
from typing import Any

from ._code_common import (
    APPS_SYSTEM, C_APPS, ENTITIES, FILE_KINDS, camel, dashed, entity, pick_dir, rand_word, sample, slug,
)
from ._util import DROP


def _any_app(r: random.Random) -> str:
    return r.choice(APPS_SYSTEM + [e["app"] for e in ENTITIES])


# --------------------------------------------------------------------------- path traversal

def pt_download(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    label, short = r.choice(FILE_KINDS)
    base = pick_dir(r, app) + "/" + short
    param = r.choice(["file", "name", "filename", "path", "doc"])
    route = r.choice([f"download/{short}", f"{short}/download", "files", f"api/{short}", "download"])
    func = r.choice([f"download_{short}", "download", "serve_file", f"get_{short[:-1]}"])
    insecure = '''
        import os

        from flask import Flask, request, send_file, abort

        app = Flask(__name__)
        BASE_DIR = "{{base}}"


        @app.route("/{{route}}")
        def {{func}}():
            filename = request.args.get("{{param}}", "")
            path = os.path.join(BASE_DIR, filename)
            if not os.path.isfile(path):
                abort(404)
            return send_file(path, as_attachment=True)
    '''
    secure = '''
        import os

        from flask import Flask, request, send_file, abort

        app = Flask(__name__)
        BASE_DIR = "{{base}}"


        @app.route("/{{route}}")
        def {{func}}():
            filename = request.args.get("{{param}}", "")
            base = os.path.realpath(BASE_DIR)
            path = os.path.realpath(os.path.join(base, filename))
            if os.path.commonpath([base, path]) != base or not os.path.isfile(path):
                abort(404)
            return send_file(path, as_attachment=True)
    '''
    what = f"a Flask route `/{route}` that lets users download {label} stored under `{base}`; the file name comes from the `{param}` query parameter"
    return sample("path_traversal", "pt_download", "python", what, app, insecure, secure,
                  base=base, param=param, route=route, func=func)


def pt_tar(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    func = r.choice(["restore_backup", "unpack_bundle", "install_theme", "extract_archive", "import_dataset", "load_plugin"])
    what_archive = {"restore_backup": "a backup archive", "unpack_bundle": "a release bundle",
                    "install_theme": "a theme package uploaded by a user", "extract_archive": "a .tar.gz archive",
                    "import_dataset": "a dataset tarball downloaded from a partner", "load_plugin": "a plugin tarball"}[func]
    dest = r.choice(["dest_dir", "target_dir", "out_dir", "destination"])
    insecure = '''
        import os
        import tarfile


        def {{func}}(archive_path, {{dest}}):
            os.makedirs({{dest}}, exist_ok=True)
            with tarfile.open(archive_path, "r:*") as tar:
                tar.extractall({{dest}})
            return sorted(os.listdir({{dest}}))
    '''
    secure = '''
        import os
        import tarfile


        def {{func}}(archive_path, {{dest}}):
            root = os.path.realpath({{dest}})
            os.makedirs(root, exist_ok=True)
            with tarfile.open(archive_path, "r:*") as tar:
                for member in tar.getmembers():
                    target = os.path.realpath(os.path.join(root, member.name))
                    if os.path.commonpath([root, target]) != root:
                        raise ValueError(f"member outside destination: {member.name!r}")
                    if member.issym() or member.islnk() or member.isdev():
                        raise ValueError(f"links and devices are not allowed: {member.name!r}")
                tar.extractall(root)
            return sorted(os.listdir(root))
    '''
    what = f"a Python function `{func}(archive_path, {dest})` that extracts {what_archive} into a directory and returns the extracted top-level names"
    return sample("path_traversal", "pt_tar", "python", what, app, insecure, secure, func=func, dest=dest)


def pt_zip(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    func = r.choice(["unzip_upload", "extract_zip", "import_photos", "unpack_submission", "expand_attachments"])
    out = r.choice(["out_dir", "dest", "folder", "target"])
    insecure = '''
        import os
        import zipfile


        def {{func}}(zip_path, {{out}}):
            written = []
            with zipfile.ZipFile(zip_path) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    target = os.path.join({{out}}, info.filename)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as dst:
                        dst.write(src.read())
                    written.append(target)
            return written
    '''
    secure = '''
        import os
        import zipfile


        def {{func}}(zip_path, {{out}}):
            root = os.path.realpath({{out}})
            written = []
            with zipfile.ZipFile(zip_path) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    target = os.path.realpath(os.path.join(root, info.filename))
                    if os.path.commonpath([root, target]) != root:
                        raise ValueError(f"entry outside destination: {info.filename!r}")
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as dst:
                        dst.write(src.read())
                    written.append(target)
            return written
    '''
    what = f"a function `{func}(zip_path, {out})` that extracts every file of a user-uploaded ZIP into a folder (creating subfolders) and returns the written paths"
    return sample("path_traversal", "pt_zip", "python", what, app, insecure, secure, func=func, out=out)


def pt_express(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    label, short = r.choice(FILE_KINDS)
    route = r.choice([f"/{short}/:name", f"/files/{short}/:name", f"/download/:name"])
    port = r.choice([3000, 8080, 4000])
    insecure = '''
        const express = require("express");
        const path = require("path");
        const fs = require("fs");

        const app = express();
        const ROOT = path.join(__dirname, "{{short}}");

        app.get("{{route}}", (req, res) => {
          const filePath = path.join(ROOT, req.params.name);
          if (!fs.existsSync(filePath)) return res.status(404).send("Not found");
          res.sendFile(filePath);
        });

        app.listen({{port}});
    '''
    secure = '''
        const express = require("express");
        const path = require("path");
        const fs = require("fs");

        const app = express();
        const ROOT = path.join(__dirname, "{{short}}");

        app.get("{{route}}", (req, res) => {
          const filePath = path.resolve(ROOT, req.params.name);
          if (!filePath.startsWith(ROOT + path.sep)) return res.status(400).send("Bad request");
          if (!fs.existsSync(filePath)) return res.status(404).send("Not found");
          res.sendFile(filePath);
        });

        app.listen({{port}});
    '''
    what = f"an Express route `GET {route}` that sends the requested file from the `{short}` folder next to the script ({label})"
    return sample("path_traversal", "pt_express", "javascript", what, app, insecure, secure,
                  short=short, route=route, port=port)


# --------------------------------------------------------------------------- command injection

_NET_TOOLS = [("ping -c 3", "ping"), ("nslookup", "DNS lookup"), ("traceroute -m 15", "traceroute"),
              ("dig +short", "DNS lookup"), ("whois", "whois lookup"), ("host", "host lookup")]


def ci_nettool(r: random.Random) -> dict[str, Any]:
    cmd, label = r.choice(_NET_TOOLS)
    app = r.choice(["network admin panel", "home lab dashboard", "ISP support portal", "router web UI", "monitoring agent",
                    "IT helpdesk tool", "hosting control panel"])
    param = r.choice(["host", "target", "domain", "address"])
    route = r.choice(["diag/" + cmd.split()[0], "tools/" + cmd.split()[0], cmd.split()[0], "api/network/" + cmd.split()[0]])
    func = r.choice(["run_" + cmd.split()[0], "network_check", "diagnose", cmd.split()[0] + "_view"])
    bad = r.choice([
        f"output = subprocess.check_output(\"{cmd} \" + {param}, shell=True, text=True)",
        f"output = os.popen(\"{cmd} \" + {param}).read()",
        f"output = subprocess.run(f\"{cmd} {{{param}}}\", shell=True, capture_output=True, text=True).stdout",
    ])
    imp = "import os\n" if "os.popen" in bad else ""
    insecure = imp + '''import subprocess

from flask import Flask, request, jsonify

app = Flask(__name__)


@app.route("/{{route}}")
def {{func}}():
    {{param}} = request.args.get("{{param}}", "")
    {{bad}}
    return jsonify({"{{param}}": {{param}}, "output": output})
'''
    secure = r'''import re
import subprocess

from flask import Flask, request, jsonify, abort

app = Flask(__name__)
HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$")


@app.route("/{{route}}")
def {{func}}():
    {{param}} = request.args.get("{{param}}", "")
    if not HOST_RE.match({{param}}):
        abort(400)
    result = subprocess.run({{argv}}, capture_output=True, text=True, timeout=60)
    return jsonify({"{{param}}": {{param}}, "output": result.stdout})
'''
    what = f"a Flask endpoint `/{route}` that runs `{cmd}` ({label}) on the `{param}` given in the query string and returns the output as JSON"
    return sample("command_injection", "ci_nettool", "python", what, app, insecure, secure,
                  route=route, func=func, param=param, bad=bad,
                  argv="[" + ", ".join('"' + a + '"' for a in cmd.split()) + ", " + param + "]")


def ci_tool(r: random.Random) -> dict[str, Any]:
    tool = r.choice([
        ("archive", "backs up a directory into a dated .tar.gz in a destination folder",
         "src, dest", 'out = os.path.join(dest, os.path.basename(os.path.normpath(src)) + "-" + date.today().isoformat() + ".tar.gz")',
         '"tar -czf " + out + " " + src', '["tar", "-czf", out, "--", src]'),
        ("thumbnail", "makes a 200x200 thumbnail of an uploaded image with ImageMagick",
         "src, dest", 'out = os.path.join(dest, "thumb_" + os.path.basename(src))',
         '"convert " + src + " -resize 200x200 " + out', '["convert", src, "-resize", "200x200", out]'),
        ("extract_audio", "extracts the audio track of a video file to MP3 with ffmpeg",
         "src, dest", 'out = os.path.join(dest, os.path.splitext(os.path.basename(src))[0] + ".mp3")',
         '"ffmpeg -y -i " + src + " -vn " + out', '["ffmpeg", "-y", "-i", src, "-vn", out]'),
        ("clone_repo", "clones a git repository URL supplied by the user into a workspace folder",
         "src, dest", 'out = os.path.join(dest, os.path.basename(src.rstrip("/")).removesuffix(".git"))',
         '"git clone --depth 1 " + src + " " + out', '["git", "clone", "--depth", "1", "--", src, out]'),
        ("to_pdf", "converts an uploaded office document to PDF with LibreOffice",
         "src, dest", 'out = os.path.join(dest, os.path.splitext(os.path.basename(src))[0] + ".pdf")',
         '"soffice --headless --convert-to pdf --outdir " + dest + " " + src',
         '["soffice", "--headless", "--convert-to", "pdf", "--outdir", dest, "--", src]'),
    ])
    name, desc, args, outline, shell_cmd, argv = tool
    app = _any_app(r)
    func = r.choice([name, "make_" + name, name + "_file", "run_" + name])
    bad = r.choice([f"os.system({shell_cmd})", f"subprocess.call({shell_cmd}, shell=True)"])
    insecure = '''
        import os
        {{subimp}}
        from datetime import date


        def {{func}}({{args}}):
            os.makedirs(dest, exist_ok=True)
            {{outline}}
            {{bad}}
            return out
    '''
    secure = '''
        import os
        import subprocess
        from datetime import date


        def {{func}}({{args}}):
            os.makedirs(dest, exist_ok=True)
            {{outline}}
            subprocess.run({{argv}}, check=True)
            return out
    '''
    what = f"a Python function `{func}({args})` that {desc} and returns the output path"
    return sample("command_injection", "ci_tool", "python", what, app, insecure, secure,
                  func=func, args=args, outline=outline, bad=bad, argv=argv,
                  subimp="import subprocess" if "subprocess" in bad else DROP)


def ci_node(r: random.Random) -> dict[str, Any]:
    cmd = r.choice([("git log --oneline -n 20", "git", ["log", "--oneline", "-n", "20"], "branch", "the last commits of a branch"),
                    ("ls -la", "ls", ["-la"], "dir", "the listing of a directory in the workspace"),
                    ("du -sh", "du", ["-sh"], "folder", "the disk usage of a folder"),
                    ("wc -l", "wc", ["-l"], "file", "the line count of a log file")])
    full, binary, args, var, desc = cmd
    route = r.choice(["/api/" + binary, "/tools/" + binary, "/" + binary])
    port = r.choice([3000, 8080, 5000])
    app = r.choice(["internal dev dashboard", "CI status page", "build server UI", "admin console", "ops toolbox"])
    insecure = '''
        const express = require("express");
        const { exec } = require("child_process");

        const app = express();

        app.get("{{route}}", (req, res) => {
          const {{var}} = req.query.{{var}} || "";
          exec("{{full}} " + {{var}}, (err, stdout) => {
            if (err) return res.status(500).send("command failed");
            res.type("text/plain").send(stdout);
          });
        });

        app.listen({{port}});
    '''
    secure = '''
        const express = require("express");
        const { execFile } = require("child_process");

        const app = express();

        app.get("{{route}}", (req, res) => {
          const {{var}} = String(req.query.{{var}} || "");
          if (!/^[\\w.\\/-]+$/.test({{var}}) || {{var}}.startsWith("-")) return res.status(400).send("invalid {{var}}");
          execFile("{{binary}}", [{{args}}, {{var}}], (err, stdout) => {
            if (err) return res.status(500).send("command failed");
            res.type("text/plain").send(stdout);
          });
        });

        app.listen({{port}});
    '''
    what = f"an Express endpoint `GET {route}` that shows {desc} given in the `{var}` query parameter by running `{full}`"
    return sample("command_injection", "ci_node", "javascript", what, app, insecure, secure,
                  route=route, var=var, full=full, binary=binary, args=", ".join('"' + a + '"' for a in args), port=port)


# --------------------------------------------------------------------------- insecure permissions

def perm_write(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    kind = r.choice([
        ("save_token", "token", "caches the OAuth access token for the CLI", "~/.config/{a}/token"),
        ("write_report", "report", "writes the nightly sales report", "/var/lib/{a}/reports/latest.txt"),
        ("save_private_key", "key_pem", "stores a freshly generated private key in PEM form", "/etc/{a}/keys/server.pem"),
        ("write_env_file", "env_text", "writes the generated .env file with the database credentials", "/srv/{a}/.env"),
        ("export_contacts", "csv_text", "exports the contact list as CSV", "/home/app/exports/contacts.csv"),
        ("write_config", "config_text", "writes the rendered service configuration", "/etc/{a}/service.conf"),
    ])
    func, var, desc, path = kind
    path = path.format(a=dashed(app))
    mode_bad = r.choice(["0o777", "0o777", "0o666"])
    mode_good = "0o600"
    dir_bad, dir_good = r.choice(["0o777"]), "0o700"
    tmpl = '''
        import os


        def {{func}}({{var}}, path="{{path}}"):
            path = os.path.expanduser(path)
            os.makedirs(os.path.dirname(path), mode={{dmode}}, exist_ok=True)
            with open(path, "w") as f:
                f.write({{var}})
            os.chmod(path, {{mode}})
            return path
    '''
    what = f"a Python function `{func}({var}, path=...)` that {desc} to `{path}`, creating the folder if needed"
    s = sample("insecure_permissions", "perm_write", "python", what, app, tmpl, tmpl, func=func, var=var, path=path,
               dmode=dir_bad, mode=mode_bad)
    s["secure"] = sample("insecure_permissions", "x", "python", what, app, tmpl, tmpl, func=func, var=var, path=path,
                         dmode=dir_good, mode=mode_good)["secure"]
    return s


def perm_shell(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    name = slug(app).replace("_", "-")
    src = r.choice([f"/srv/{name}/data", f"/var/lib/{name}", f"/home/deploy/{name}", f"/opt/{name}/db-dumps"])
    dest = r.choice([f"/backups/{name}", f"/mnt/backup/{name}", f"/var/backups/{name}"])
    days = r.choice([7, 14, 30, 60])
    insecure = '''
        #!/bin/bash
        set -euo pipefail

        SRC="{{src}}"
        DEST="{{dest}}"
        STAMP=$(date +%Y%m%d-%H%M%S)
        ARCHIVE="$DEST/{{name}}-$STAMP.tar.gz"

        mkdir -p "$DEST"
        tar -czf "$ARCHIVE" -C "$SRC" .
        chmod -R 777 "$DEST"
        find "$DEST" -name '{{name}}-*.tar.gz' -mtime +{{days}} -delete
        echo "backup written to $ARCHIVE"
    '''
    secure = '''
        #!/bin/bash
        set -euo pipefail
        umask 077

        SRC="{{src}}"
        DEST="{{dest}}"
        STAMP=$(date +%Y%m%d-%H%M%S)
        ARCHIVE="$DEST/{{name}}-$STAMP.tar.gz"

        mkdir -p "$DEST"
        tar -czf "$ARCHIVE" -C "$SRC" .
        chmod 700 "$DEST"
        chmod 600 "$ARCHIVE"
        find "$DEST" -name '{{name}}-*.tar.gz' -mtime +{{days}} -delete
        echo "backup written to $ARCHIVE"
    '''
    what = f"a bash script that archives `{src}` into a timestamped .tar.gz under `{dest}`, makes sure the backups can be read back later, and deletes backups older than {days} days"
    return sample("insecure_permissions", "perm_shell", "shell", what, app, insecure, secure,
                  src=src, dest=dest, name=name, days=days)


# --------------------------------------------------------------------------- hard-coded secrets

def _password(r: random.Random) -> str:
    word = r.choice(["Summer", "Winter", "Admin", "Welcome", "Dragon", "Sunshine", "Pa55word", "Letmein", "Secret"])
    return word + str(r.randint(1, 2030)) + r.choice(["!", "#", "", "$", "?"])


def secret_db(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    host = r.choice(["db.internal", "localhost", "10.0.3.15", f"{e['appslug']}-db.prod.local", "postgres"])
    user = r.choice([e["appslug"], "app", "admin", "postgres", "web"])
    func = r.choice(["get_connection", "connect_db", "open_db", "db_connection"])
    insecure = '''
        import psycopg2


        def {{func}}():
            return psycopg2.connect(
                host="{{host}}",
                dbname="{{db}}",
                user="{{user}}",
                password="{{pw}}",
            )
    '''
    secure = '''
        import os

        import psycopg2


        def {{func}}():
            return psycopg2.connect(
                host=os.environ.get("DB_HOST", "{{host}}"),
                dbname=os.environ.get("DB_NAME", "{{db}}"),
                user=os.environ["DB_USER"],
                password=os.environ["DB_PASSWORD"],
            )
    '''
    what = f"a function `{func}()` that opens a connection to our PostgreSQL database `{e['appslug']}` on `{host}` as user `{user}`"
    return sample("hardcoded_secret", "secret_db", "python", what, e["app"], insecure, secure,
                  func=func, host=host, db=e["appslug"], user=user, pw=_password(r))


def secret_api(r: random.Random) -> dict[str, Any]:
    svc = r.choice([
        ("weather", "https://api.weather.example.com/v2", "forecast", "city", "WEATHER_API_KEY"),
        ("payments", "https://api.payments.example.com/v1", "charges", "charge_id", "PAYMENTS_API_KEY"),
        ("geocoding", "https://maps.example.com/api", "geocode", "address", "MAPS_API_KEY"),
        ("SMS", "https://sms.example.net/api", "messages", "message_id", "SMS_API_TOKEN"),
        ("translation", "https://translate.example.org/v3", "languages", "code", "TRANSLATE_API_KEY"),
        ("stock quotes", "https://quotes.example.io/api", "quote", "symbol", "QUOTES_API_KEY"),
    ])
    label, base, path, arg, env = svc
    app = _any_app(r)
    prefix = r.choice(["sk_live_", "key_", "", "tok_", "AKIA"])
    key = prefix + rand_word(r, 28, string.ascii_letters + string.digits)
    func = r.choice([f"get_{slug(path)}", f"fetch_{slug(path)}", f"{slug(label)}_lookup"])
    insecure = '''
        import requests

        API_KEY = "{{key}}"
        BASE_URL = "{{base}}"


        def {{func}}({{arg}}):
            resp = requests.get(
                BASE_URL + "/{{path}}/" + str({{arg}}),
                headers={"Authorization": "Bearer " + API_KEY},
                timeout=10,
            )
            resp.raise_for_status()
            return resp.json()
    '''
    secure = '''
        import os

        import requests

        API_KEY = os.environ["{{env}}"]
        BASE_URL = "{{base}}"


        def {{func}}({{arg}}):
            resp = requests.get(
                BASE_URL + "/{{path}}/" + str({{arg}}),
                headers={"Authorization": "Bearer " + API_KEY},
                timeout=10,
            )
            resp.raise_for_status()
            return resp.json()
    '''
    what = f"a small client function `{func}({arg})` for the {label} API at `{base}` (our key is `{key}`) that calls `GET /{path}/<{arg}>` and returns the JSON"
    return sample("hardcoded_secret", "secret_api", "python", what, app, insecure, secure,
                  key=key, base=base, func=func, arg=arg, path=path, env=env)


def secret_flask(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    secret = r.choice(["dev", "changeme", "super-secret", e["appslug"], "s3cr3t", "flask-key"]) + "-" + rand_word(r, 6)
    route = r.choice(["cart/add", "visits", "prefs/theme", "wizard/step"])
    insecure = '''
        from flask import Flask, session, jsonify

        app = Flask(__name__)
        app.secret_key = "{{secret}}"


        @app.route("/{{route}}", methods=["POST"])
        def {{func}}():
            session["{{key}}"] = session.get("{{key}}", 0) + 1
            return jsonify({"{{key}}": session["{{key}}"]})
    '''
    secure = '''
        import os

        from flask import Flask, session, jsonify

        app = Flask(__name__)
        app.secret_key = os.environ["FLASK_SECRET_KEY"]


        @app.route("/{{route}}", methods=["POST"])
        def {{func}}():
            session["{{key}}"] = session.get("{{key}}", 0) + 1
            return jsonify({"{{key}}": session["{{key}}"]})
    '''
    key = slug(route.split("/")[-1]) + "_count"
    what = f"a Flask app set up with sessions (signing key `{secret}`) and a `POST /{route}` route that counts in the session how often it was called"
    return sample("hardcoded_secret", "secret_flask", "python", what, e["app"], insecure, secure,
                  secret=secret, route=route, func=slug(route), key=key)


def secret_node(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    host = r.choice(["db.internal", "localhost", "10.0.1.20", "pg.prod.local"])
    user = r.choice([e["appslug"], "app", "admin"])
    pw = _password(r)
    func = r.choice([f"list{e['plural'].title()}", f"get{e['plural'].title()}", f"fetch{e['plural'].title()}"])
    insecure = '''
        const { Pool } = require("pg");

        const pool = new Pool({
          host: "{{host}}",
          user: "{{user}}",
          password: "{{pw}}",
          database: "{{db}}",
        });

        async function {{func}}(limit = 50) {
          const { rows } = await pool.query("SELECT * FROM {{table}} ORDER BY id DESC LIMIT $1", [limit]);
          return rows;
        }

        module.exports = { {{func}} };
    '''
    secure = '''
        const { Pool } = require("pg");

        const pool = new Pool({
          host: process.env.PGHOST || "{{host}}",
          user: process.env.PGUSER,
          password: process.env.PGPASSWORD,
          database: process.env.PGDATABASE || "{{db}}",
        });

        async function {{func}}(limit = 50) {
          const { rows } = await pool.query("SELECT * FROM {{table}} ORDER BY id DESC LIMIT $1", [limit]);
          return rows;
        }

        module.exports = { {{func}} };
    '''
    what = f"a Node.js module that connects to our PostgreSQL database `{e['appslug']}` on `{host}` (user `{user}`, password `{pw}`) and exports `{func}(limit)` returning the newest rows of `{e['table']}`"
    return sample("hardcoded_secret", "secret_node", "javascript", what, e["app"], insecure, secure,
                  host=host, user=user, pw=pw, db=e["appslug"], func=func, table=e["table"])


# --------------------------------------------------------------------------- weak cryptography

def crypto_pwhash(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    algo = r.choice(["md5", "md5", "sha1"])
    hfn = r.choice(["hash_password", "make_password_hash", "encode_password"])
    vfn = r.choice(["verify_password", "check_password", "password_matches"])
    table = r.choice(["users", "accounts", "members", "staff"])
    insecure = '''
        import hashlib


        def {{hfn}}(password):
            return hashlib.{{algo}}(password.encode("utf-8")).hexdigest()


        def {{vfn}}(password, stored_hash):
            return {{hfn}}(password) == stored_hash


        def register(conn, username, password):
            conn.execute("INSERT INTO {{table}} (username, password_hash) VALUES (?, ?)", (username, {{hfn}}(password)))
            conn.commit()
    '''
    secure = '''
        import hashlib
        import hmac
        import os

        ITERATIONS = 600_000


        def {{hfn}}(password):
            salt = os.urandom(16)
            digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, ITERATIONS)
            return salt.hex() + "$" + digest.hex()


        def {{vfn}}(password, stored_hash):
            salt_hex, digest_hex = stored_hash.split("$", 1)
            digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt_hex), ITERATIONS)
            return hmac.compare_digest(digest.hex(), digest_hex)


        def register(conn, username, password):
            conn.execute("INSERT INTO {{table}} (username, password_hash) VALUES (?, ?)", (username, {{hfn}}(password)))
            conn.commit()
    '''
    what = f"password helpers `{hfn}(password)` and `{vfn}(password, stored_hash)` plus a `register(conn, username, password)` that stores the hash in the `{table}` table"
    return sample("weak_crypto", "crypto_pwhash", "python", what, app, insecure, secure,
                  algo=algo, hfn=hfn, vfn=vfn, table=table)


def crypto_cipher(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    data = r.choice(["user notes", "API tokens at rest", "backup files", "card numbers", "chat messages", "medical records"])
    enc, dec = r.choice([("encrypt", "decrypt"), ("seal", "unseal"), ("encrypt_blob", "decrypt_blob"), ("protect", "unprotect")])
    cipher = r.choice(["AES-ECB", "AES-ECB", "DES"])
    if cipher == "DES":
        insecure = '''
            from Crypto.Cipher import DES
            from Crypto.Util.Padding import pad, unpad


            def {{enc}}(key, data):
                cipher = DES.new(key[:8], DES.MODE_ECB)
                return cipher.encrypt(pad(data, DES.block_size))


            def {{dec}}(key, blob):
                cipher = DES.new(key[:8], DES.MODE_ECB)
                return unpad(cipher.decrypt(blob), DES.block_size)
        '''
    else:
        insecure = '''
            from Crypto.Cipher import AES
            from Crypto.Util.Padding import pad, unpad


            def {{enc}}(key, data):
                cipher = AES.new(key, AES.MODE_ECB)
                return cipher.encrypt(pad(data, AES.block_size))


            def {{dec}}(key, blob):
                cipher = AES.new(key, AES.MODE_ECB)
                return unpad(cipher.decrypt(blob), AES.block_size)
        '''
    secure = '''
        from Crypto.Cipher import AES
        from Crypto.Random import get_random_bytes


        def {{enc}}(key, data):
            nonce = get_random_bytes(12)
            cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
            ciphertext, tag = cipher.encrypt_and_digest(data)
            return nonce + tag + ciphertext


        def {{dec}}(key, blob):
            nonce, tag, ciphertext = blob[:12], blob[12:28], blob[28:]
            cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
            return cipher.decrypt_and_verify(ciphertext, tag)
    '''
    what = f"two functions `{enc}(key, data)` and `{dec}(key, blob)` using PyCryptodome to encrypt {data} for our {app} (bytes in, bytes out; the key comes from our KMS)"
    return sample("weak_crypto", "crypto_cipher", "python", what, app, insecure, secure, enc=enc, dec=dec)


# --------------------------------------------------------------------------- XXE

def xxe_parse(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    tag = e["noun"]
    f1, f2 = r.sample(e["fields"], 2)
    func = r.choice([f"parse_{e['plural']}", f"import_{e['plural']}_xml", f"read_{e['noun']}_feed"])
    source = r.choice(["an XML file uploaded by a partner", "the XML body of a SOAP-style request", "an XML export from the old system",
                       "a supplier's XML feed"])
    insecure = '''
        from lxml import etree


        def {{func}}(xml_bytes):
            parser = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=False)
            root = etree.fromstring(xml_bytes, parser)
            items = []
            for node in root.iter("{{tag}}"):
                items.append({"{{f1}}": node.findtext("{{f1}}"), "{{f2}}": node.findtext("{{f2}}")})
            return items
    '''
    if r.random() < 0.5:
        secure = '''
            import defusedxml.ElementTree as ET


            def {{func}}(xml_bytes):
                root = ET.fromstring(xml_bytes)
                items = []
                for node in root.iter("{{tag}}"):
                    items.append({"{{f1}}": node.findtext("{{f1}}"), "{{f2}}": node.findtext("{{f2}}")})
                return items
        '''
    else:
        secure = '''
            from lxml import etree


            def {{func}}(xml_bytes):
                parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
                root = etree.fromstring(xml_bytes, parser)
                items = []
                for node in root.iter("{{tag}}"):
                    items.append({"{{f1}}": node.findtext("{{f1}}"), "{{f2}}": node.findtext("{{f2}}")})
                return items
        '''
    what = f"a function `{func}(xml_bytes)` that parses {source} and returns a list of dicts with the `{f1}` and `{f2}` of every `<{tag}>` element"
    return sample("xxe", "xxe_parse", "python", what, e["app"], insecure, secure, func=func, tag=tag, f1=f1, f2=f2)


# --------------------------------------------------------------------------- insecure randomness

def rand_token(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    kind = r.choice([
        ("reset", "create_reset_token", "password reset token", "password_resets"),
        ("invite", "make_invite_code", "invitation code", "invites"),
        ("api", "generate_api_key", "API key", "api_keys"),
        ("session", "new_session_id", "session identifier", "sessions"),
        ("verify", "email_verification_token", "e-mail verification token", "email_verifications"),
    ])
    _, func, label, table = kind
    n = r.choice([16, 20, 24, 32])
    hours = r.choice([1, 2, 24, 48])
    insecure = '''
        import random
        import string
        from datetime import datetime, timedelta, timezone


        def {{func}}(conn, user_id):
            alphabet = string.ascii_letters + string.digits
            token = "".join(random.choice(alphabet) for _ in range({{n}}))
            expires = datetime.now(timezone.utc) + timedelta(hours={{hours}})
            conn.execute(
                "INSERT INTO {{table}} (user_id, token, expires_at) VALUES (?, ?, ?)",
                (user_id, token, expires.isoformat()),
            )
            conn.commit()
            return token
    '''
    secure = '''
        import secrets
        import string
        from datetime import datetime, timedelta, timezone


        def {{func}}(conn, user_id):
            alphabet = string.ascii_letters + string.digits
            token = "".join(secrets.choice(alphabet) for _ in range({{n}}))
            expires = datetime.now(timezone.utc) + timedelta(hours={{hours}})
            conn.execute(
                "INSERT INTO {{table}} (user_id, token, expires_at) VALUES (?, ?, ?)",
                (user_id, token, expires.isoformat()),
            )
            conn.commit()
            return token
    '''
    what = f"a function `{func}(conn, user_id)` that creates a {n}-character alphanumeric {label}, stores it in the `{table}` table with an expiry {hours} hour(s) from now and returns it"
    return sample("insecure_randomness", "rand_token", "python", what, e["app"], insecure, secure,
                  func=func, n=n, hours=hours, table=table)


def rand_otp(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    digits = r.choice([4, 6, 6, 8])
    func = r.choice(["send_login_code", "issue_otp", "send_2fa_code", "start_phone_verification"])
    sender = r.choice(["send_sms", "sms_client.send", "notify.sms", "twilio_send"])
    ttl = r.choice([120, 300, 600])
    lo, hi = 10 ** (digits - 1), 10 ** digits - 1
    insecure = '''
        import random
        import time

        from messaging import {{sender_mod}}

        PENDING = {}


        def {{func}}(phone):
            code = str(random.randint({{lo}}, {{hi}}))
            PENDING[phone] = (code, time.time() + {{ttl}})
            {{sender}}(phone, "Your code is " + code)
    '''
    secure = '''
        import secrets
        import time

        from messaging import {{sender_mod}}

        PENDING = {}


        def {{func}}(phone):
            code = str(secrets.randbelow({{span}}) + {{lo}})
            PENDING[phone] = (code, time.time() + {{ttl}})
            {{sender}}(phone, "Your code is " + code)
    '''
    what = f"a function `{func}(phone)` that generates a {digits}-digit one-time login code, remembers it for {ttl} seconds and texts it with `{sender}`"
    return sample("insecure_randomness", "rand_otp", "python", what, app, insecure, secure,
                  func=func, sender=sender, sender_mod=sender.split(".")[0], ttl=ttl, lo=lo, hi=hi, span=hi - lo + 1)


def rand_js(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    func = r.choice(["createShareLink", "newInviteToken", "makeResetToken", "generateApiKey", "createDownloadToken"])
    base = r.choice(["https://app.example.com/s/", "https://files.example.org/d/", "https://example.net/invite/"])
    insecure = '''
        function {{func}}(store, ownerId) {
          const token = Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
          store.set(token, { ownerId, created: Date.now() });
          return "{{base}}" + token;
        }

        module.exports = { {{func}} };
    '''
    secure = '''
        const crypto = require("crypto");

        function {{func}}(store, ownerId) {
          const token = crypto.randomBytes(24).toString("base64url");
          store.set(token, { ownerId, created: Date.now() });
          return "{{base}}" + token;
        }

        module.exports = { {{func}} };
    '''
    what = f"a Node.js function `{func}(store, ownerId)` that makes an unguessable-looking random token, saves it in the given Map with the owner and returns the URL `{base}<token>`"
    return sample("insecure_randomness", "rand_js", "javascript", what, app, insecure, secure, func=func, base=base)


# --------------------------------------------------------------------------- TLS verification disabled

def tls_requests(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    svc = r.choice([
        ("metrics", "https://metrics.internal.example.com", "v1/push", "post", "json=payload", "payload"),
        ("inventory", "https://inventory.corp.example.com", "api/items", "get", "params={\"sku\": sku}", "sku"),
        ("billing", "https://billing.example.net", "api/invoices", "post", "json=invoice", "invoice"),
        ("license", "https://licenses.example.org", "check", "get", "params={\"key\": key}", "key"),
        ("update", "https://updates.example.io", "latest", "get", "params={\"channel\": channel}", "channel"),
    ])
    name, url, path, method, kw, arg = svc
    func = r.choice([f"{method}_{name}", f"call_{name}_service", f"{name}_request"])
    style = r.choice(["kw", "kw", "session"])
    if style == "kw":
        insecure = '''
            import requests

            {{CONST}} = "{{url}}"


            def {{func}}({{arg}}):
                resp = requests.{{method}}({{CONST}} + "/{{path}}", {{kw}}, timeout=10, verify=False)
                resp.raise_for_status()
                return resp.json()
        '''
    else:
        insecure = '''
            import requests
            import urllib3

            urllib3.disable_warnings()

            {{CONST}} = "{{url}}"
            session = requests.Session()
            session.verify = False


            def {{func}}({{arg}}):
                resp = session.{{method}}({{CONST}} + "/{{path}}", {{kw}}, timeout=10)
                resp.raise_for_status()
                return resp.json()
        '''
    if r.random() < 0.5:
        secure = '''
            import requests

            {{CONST}} = "{{url}}"


            def {{func}}({{arg}}):
                resp = requests.{{method}}({{CONST}} + "/{{path}}", {{kw}}, timeout=10)
                resp.raise_for_status()
                return resp.json()
        '''
    else:
        secure = '''
            import requests

            {{CONST}} = "{{url}}"
            CA_BUNDLE = "/etc/ssl/certs/{{name}}-ca.pem"


            def {{func}}({{arg}}):
                resp = requests.{{method}}({{CONST}} + "/{{path}}", {{kw}}, timeout=10, verify=CA_BUNDLE)
                resp.raise_for_status()
                return resp.json()
        '''
    what = f"a function `{func}({arg})` that calls our {name} service at `{url}/{path}` over HTTPS (it uses a certificate from our internal CA) and returns the JSON response"
    return sample("tls_verification_disabled", "tls_requests", "python", what, app, insecure, secure,
                  CONST=name.upper() + "_URL", url=url, func=func, method=method, path=path, kw=kw, arg=arg, name=name)


def tls_urllib(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    func = r.choice(["download", "fetch_file", "pull_artifact", "get_feed", "download_update"])
    what_dl = r.choice(["a nightly build artifact", "a CSV export from a partner", "an RSS feed", "a firmware image", "a price list"])
    chunk = r.choice([8192, 65536, 16384])
    bad_ctx = r.choice([
        "    context = ssl._create_unverified_context()",
        "    context = ssl.create_default_context()\n    context.check_hostname = False\n    context.verify_mode = ssl.CERT_NONE",
    ])
    tmpl = '''
        import shutil
        import ssl
        import urllib.request


        def {{func}}(url, dest_path):
        {{ctx}}
            with urllib.request.urlopen(url, context=context, timeout=30) as resp, open(dest_path, "wb") as out:
                shutil.copyfileobj(resp, out, {{chunk}})
            return dest_path
    '''
    what = f"a function `{func}(url, dest_path)` using only the standard library that downloads {what_dl} over HTTPS to a local file"
    s = sample("tls_verification_disabled", "tls_urllib", "python", what, app, tmpl, tmpl, func=func, ctx=bad_ctx, chunk=chunk)
    s["secure"] = sample("x", "x", "python", what, app, tmpl, tmpl, func=func, chunk=chunk,
                         ctx="    context = ssl.create_default_context()")["secure"]
    return s


# --------------------------------------------------------------------------- tempfile race

def tmp_mktemp(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    kind = r.choice([
        ("csv", "rows", "writes rows to a temporary CSV file", "import csv",
         "    writer = csv.writer(f)\n    writer.writerows(rows)", 'newline=""'),
        ("json", "data", "dumps a dict to a temporary JSON file", "import json",
         "    json.dump(data, f, indent=2)", None),
        ("txt", "lines", "writes lines of text to a temporary file", DROP,
         "    f.write(\"\\n\".join(lines) + \"\\n\")", None),
    ])
    ext, arg, desc, imp, body, extra = kind
    func = r.choice([f"write_temp_{ext}", f"export_{arg}_to_tmp", f"stage_{arg}", f"dump_{arg}"])
    prefix = r.choice(["export-", "report_", "tmp", slug(app)[:8] + "-"])
    mode = '"w", ' + extra if extra else '"w"'
    insecure = '''
        import tempfile
        {{imp}}


        def {{func}}({{arg}}):
            path = tempfile.mktemp(suffix=".{{ext}}", prefix="{{prefix}}")
            with open(path, {{mode}}) as f:
        {{body}}
            return path
    '''
    secure = '''
        import os
        import tempfile
        {{imp}}


        def {{func}}({{arg}}):
            fd, path = tempfile.mkstemp(suffix=".{{ext}}", prefix="{{prefix}}")
            with os.fdopen(fd, {{mode}}) as f:
        {{body}}
            return path
    '''
    body = "\n".join("    " + line for line in body.split("\n"))
    what = f"a function `{func}({arg})` that {desc} (it is later picked up by another process) and returns its path"
    return sample("tempfile_race", "tmp_mktemp", "python", what, app, insecure, secure,
                  imp=imp, func=func, arg=arg, ext=ext, prefix=prefix, mode=mode, body=body)


def tmp_shell(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    job = r.choice([
        ("report", "psql -At -c 'SELECT count(*) FROM orders' shop", "mail -s \"daily report\" ops@example.com < \"$TMP\""),
        ("disk", "df -h", "cat \"$TMP\" >> /var/log/disk-usage.log"),
        ("packages", "dpkg -l", "cp \"$TMP\" /srv/inventory/packages-$(hostname).txt"),
        ("users", "getent passwd", "wc -l < \"$TMP\""),
        ("crontab", "crontab -l", "cp \"$TMP\" /var/backups/crontab-$(whoami).txt"),
    ])
    name, cmd, use = job
    insecure = '''
        #!/bin/sh
        set -e

        TMP=/tmp/{{name}}.$$
        {{cmd}} > "$TMP"
        {{use}}
        rm -f "$TMP"
    '''
    secure = '''
        #!/bin/sh
        set -e

        TMP=$(mktemp)
        trap 'rm -f "$TMP"' EXIT
        {{cmd}} > "$TMP"
        {{use}}
    '''
    what = f"a cron shell script that saves the output of `{cmd}` into a temporary file and then runs `{use}` on it, cleaning up afterwards"
    return sample("tempfile_race", "tmp_shell", "shell", what, app, insecure, secure, name=name, cmd=cmd, use=use)


# --------------------------------------------------------------------------- C: buffer overflow, format string

def bof_strcpy(r: random.Random) -> dict[str, Any]:
    app = r.choice(C_APPS)
    sname = r.choice(["session", "client", "user_record", "device_info", "request_ctx", "player"])
    field = r.choice(["username", "hostname", "label", "nickname", "path", "model"])
    size = r.choice([16, 32, 64, 128])
    macro = field.upper() + "_LEN"
    func = r.choice([f"set_{field}", f"{sname}_set_{field}", f"store_{field}", f"copy_{field}"])
    arg = r.choice(["value", "src", "input", "name"])
    tmpl = '''
        #include <stdio.h>
        #include <string.h>

        #define {{macro}} {{size}}

        struct {{sname}} {
            int id;
            char {{field}}[{{macro}}];
        };

        void {{func}}(struct {{sname}} *s, const char *{{arg}})
        {
        {{copy}}
        }

        void print_{{sname}}(const struct {{sname}} *s)
        {
            printf("%d: %s\\n", s->id, s->{{field}});
        }
    '''
    bad = f"    strcpy(s->{field}, {arg});"
    good = r.choice([f"    snprintf(s->{field}, sizeof(s->{field}), \"%s\", {arg});",
                     f"    strncpy(s->{field}, {arg}, sizeof(s->{field}) - 1);\n    s->{field}[sizeof(s->{field}) - 1] = '\\0';"])
    slots = dict(macro=macro, size=size, sname=sname, field=field, func=func, arg=arg)
    what = f"a C function `{func}(struct {sname} *s, const char *{arg})` that stores the given {field} (received from the network) in the struct, plus a print helper"
    s = sample("buffer_overflow", "bof_strcpy", "c", what, app, tmpl, tmpl, copy=bad, **slots)
    s["secure"] = sample("x", "x", "c", what, app, tmpl, tmpl, copy=good, **slots)["secure"]
    return s


def bof_input(r: random.Random) -> dict[str, Any]:
    app = r.choice(C_APPS)
    buf = r.choice(["line", "name", "cmd", "answer", "buf"])
    size = r.choice([32, 64, 100, 256])
    prompt = r.choice(["Enter your name", "Command", "Device label", "Password hint", "Search"])
    action = r.choice(["printf(\"Hello, %s!\\n\", {b});", "printf(\"You typed %zu characters\\n\", strlen({b}));",
                       "printf(\"Saved: %s\\n\", {b});"]).format(b=buf)
    bad = r.choice([f"    if (scanf(\"%s\", {buf}) != 1)\n        return 1;", f"    gets({buf});"])
    good = (f"    if (fgets({buf}, sizeof({buf}), stdin) == NULL)\n        return 1;\n"
            f"    {buf}[strcspn({buf}, \"\\n\")] = '\\0';")
    tmpl = '''
        #include <stdio.h>
        #include <string.h>

        int main(void)
        {
            char {{buf}}[{{size}}];

            printf("{{prompt}}: ");
            fflush(stdout);
        {{read}}
            {{action}}
            return 0;
        }
    '''
    what = f"a small C program that asks the user \"{prompt}:\", reads the answer into a {size}-byte buffer and then does `{action}`"
    s = sample("buffer_overflow", "bof_input", "c", what, app, tmpl, tmpl, buf=buf, size=size, prompt=prompt, action=action, read=bad)
    s["secure"] = sample("x", "x", "c", what, app, tmpl, tmpl, buf=buf, size=size, prompt=prompt, action=action, read=good)["secure"]
    return s


def bof_sprintf(r: random.Random) -> dict[str, Any]:
    app = r.choice(C_APPS)
    logdir = r.choice(["/var/log/app", "/data/logs", "/tmp/logs", "/mnt/sd/log"])
    func = r.choice(["open_log", "open_channel_log", "log_open", "open_device_log"])
    size = r.choice([64, 128, 256])
    insecure = '''
        #include <stdio.h>

        #define LOG_DIR "{{logdir}}"

        FILE *{{func}}(const char *name)
        {
            char path[{{size}}];

            sprintf(path, "%s/%s.log", LOG_DIR, name);
            return fopen(path, "a");
        }
    '''
    secure = '''
        #include <stdio.h>

        #define LOG_DIR "{{logdir}}"

        FILE *{{func}}(const char *name)
        {
            char path[{{size}}];
            int n = snprintf(path, sizeof(path), "%s/%s.log", LOG_DIR, name);

            if (n < 0 || (size_t)n >= sizeof(path))
                return NULL;
            return fopen(path, "a");
        }
    '''
    what = f"a C function `FILE *{func}(const char *name)` that opens (for appending) the log file `{logdir}/<name>.log` for a channel name sent by a client"
    return sample("buffer_overflow", "bof_sprintf", "c", what, app, insecure, secure, logdir=logdir, func=func, size=size)


def fmt_log(r: random.Random) -> dict[str, Any]:
    app = r.choice(C_APPS)
    func = r.choice(["log_message", "report_error", "audit", "log_client_msg", "trace"])
    msg = r.choice(["msg", "text", "line", "message"])
    sink = r.choice(["syslog", "printf", "fprintf"])
    if sink == "syslog":
        hdr, bad, good, extra = "#include <syslog.h>", f"syslog(LOG_INFO, {msg});", f"syslog(LOG_INFO, \"%s\", {msg});", "writes the message to syslog"
    elif sink == "printf":
        hdr, bad, good, extra = DROP, f"printf({msg});", f"printf(\"%s\", {msg});", "prints the message to stdout"
    else:
        hdr, bad, good, extra = DROP, f"fprintf(stderr, {msg});", f"fprintf(stderr, \"%s\", {msg});", "prints the message to stderr"
    tmpl = '''
        #include <stdio.h>
        {{hdr}}

        void {{func}}(const char *{{msg}})
        {
            {{call}}
        }

        void handle_line(char *buf)
        {
            {{func}}(buf);
        }
    '''
    what = f"a C function `{func}(const char *{msg})` that {extra} exactly as received from a remote client, and a `handle_line` that calls it"
    s = sample("format_string", "fmt_log", "c", what, app, tmpl, tmpl, hdr=hdr, func=func, msg=msg, call=bad)
    s["secure"] = sample("x", "x", "c", what, app, tmpl, tmpl, hdr=hdr, func=func, msg=msg, call=good)["secure"]
    return s


# --------------------------------------------------------------------------- plaintext passwords, timing attack

def plaintext_store(r: random.Random) -> dict[str, Any]:
    e = entity(r)
    table = r.choice(["users", "accounts", "members", "customers"])
    func = r.choice(["create_user", "register_account", "add_member", "sign_up"])
    insecure = '''
        import sqlite3


        def {{func}}(db_path, username, email, password):
            conn = sqlite3.connect(db_path)
            try:
                conn.execute(
                    "INSERT INTO {{table}} (username, email, password) VALUES (?, ?, ?)",
                    (username, email, password),
                )
                conn.commit()
            finally:
                conn.close()


        def login(db_path, username, password):
            conn = sqlite3.connect(db_path)
            try:
                row = conn.execute("SELECT password FROM {{table}} WHERE username = ?", (username,)).fetchone()
            finally:
                conn.close()
            return row is not None and row[0] == password
    '''
    secure = '''
        import hashlib
        import hmac
        import os
        import sqlite3


        def _hash(password, salt):
            return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1)


        def {{func}}(db_path, username, email, password):
            salt = os.urandom(16)
            conn = sqlite3.connect(db_path)
            try:
                conn.execute(
                    "INSERT INTO {{table}} (username, email, password_salt, password_hash) VALUES (?, ?, ?, ?)",
                    (username, email, salt, _hash(password, salt)),
                )
                conn.commit()
            finally:
                conn.close()


        def login(db_path, username, password):
            conn = sqlite3.connect(db_path)
            try:
                row = conn.execute(
                    "SELECT password_salt, password_hash FROM {{table}} WHERE username = ?", (username,)
                ).fetchone()
            finally:
                conn.close()
            return row is not None and hmac.compare_digest(_hash(password, row[0]), row[1])
    '''
    what = f"`{func}(db_path, username, email, password)` and `login(db_path, username, password)` for the `{table}` table of our SQLite database"
    return sample("plaintext_password", "plaintext_store", "python", what, e["app"], insecure, secure, func=func, table=table)


def timing_webhook(r: random.Random) -> dict[str, Any]:
    provider = r.choice(["payment provider", "GitHub", "shipping partner", "CRM", "chat platform"])
    header = r.choice(["X-Signature", "X-Hub-Signature-256", "X-Webhook-Signature", "Signature"])
    env = r.choice(["WEBHOOK_SECRET", "SIGNING_SECRET", "HOOK_KEY"])
    route = r.choice(["webhooks/" + slug(provider).split("_")[0], "hooks/incoming", "api/webhook"])
    app = _any_app(r)
    tmpl = '''
        import hashlib
        import hmac
        import os

        from flask import Flask, request, abort

        app = Flask(__name__)
        SECRET = os.environ["{{env}}"].encode()


        @app.route("/{{route}}", methods=["POST"])
        def webhook():
            expected = hmac.new(SECRET, request.get_data(), hashlib.sha256).hexdigest()
            received = request.headers.get("{{header}}", "")
            if {{cmp}}:
                abort(401)
            handle_event(request.get_json())
            return "", 204


        def handle_event(event):
            print("event:", event.get("type"))
    '''
    what = f"a Flask webhook receiver `POST /{route}` for our {provider} that checks the HMAC-SHA256 hex signature in the `{header}` header against the secret in `${env}` before handling the event"
    s = sample("timing_attack", "timing_webhook", "python", what, app, tmpl, tmpl, env=env, route=route, header=header,
               cmp="received != expected")
    s["secure"] = sample("x", "x", "python", what, app, tmpl, tmpl, env=env, route=route, header=header,
                         cmp="not hmac.compare_digest(received, expected)")["secure"]
    return s


def timing_token(r: random.Random) -> dict[str, Any]:
    app = _any_app(r)
    env = r.choice(["ADMIN_TOKEN", "METRICS_TOKEN", "API_TOKEN", "INTERNAL_KEY"])
    deco = r.choice(["require_token", "token_required", "needs_api_key"])
    header = r.choice(["X-API-Key", "X-Admin-Token", "Authorization"])
    tmpl = '''
        import functools
        {{imp}}
        import os

        from flask import request, abort

        TOKEN = os.environ["{{env}}"]


        def {{deco}}(view):
            @functools.wraps(view)
            def wrapper(*args, **kwargs):
                supplied = request.headers.get("{{header}}", "")
                if {{cmp}}:
                    abort(403)
                return view(*args, **kwargs)
            return wrapper
    '''
    what = f"a Flask decorator `@{deco}` that only lets a request through when the `{header}` header equals the token in `${env}`"
    s = sample("timing_attack", "timing_token", "python", what, app, tmpl, tmpl, imp=DROP, env=env, deco=deco,
               header=header, cmp="supplied != TOKEN")
    s["secure"] = sample("x", "x", "python", what, app, tmpl, tmpl, imp="import hmac", env=env, deco=deco, header=header,
                         cmp="not hmac.compare_digest(supplied.encode(), TOKEN.encode())")["secure"]
    return s


_ = camel
SYS_TEMPLATES = {
    "path_traversal": [pt_download, pt_tar, pt_zip, pt_express],
    "command_injection": [ci_nettool, ci_tool, ci_node],
    "insecure_permissions": [perm_write, perm_shell],
    "hardcoded_secret": [secret_db, secret_api, secret_flask, secret_node],
    "weak_crypto": [crypto_pwhash, crypto_cipher],
    "xxe": [xxe_parse],
    "insecure_randomness": [rand_token, rand_otp, rand_js],
    "tls_verification_disabled": [tls_requests, tls_urllib],
    "tempfile_race": [tmp_mktemp, tmp_shell],
    "buffer_overflow": [bof_strcpy, bof_input, bof_sprintf],
    "format_string": [fmt_log],
    "plaintext_password": [plaintext_store],
    "timing_attack": [timing_webhook, timing_token],
}
