"""Code-triple templates: files and processes (path traversal, command injection, permissions).

Each template draws identifiers from the RNG and returns an insecure and a secure version
of the same task; the insecure code carries the flaw silently (see ``code.py``).
"""

from __future__ import annotations

import random
from typing import Any

from ._code_common import FILE_KINDS, any_app, dashed, pick_dir, sample, slug
from ._util import DROP


# --------------------------------------------------------------------------- path traversal

def pt_download(r: random.Random) -> dict[str, Any]:
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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


FILES_TEMPLATES = {
    "path_traversal": [pt_download, pt_tar, pt_zip, pt_express],
    "command_injection": [ci_nettool, ci_tool, ci_node],
    "insecure_permissions": [perm_write, perm_shell],
}
