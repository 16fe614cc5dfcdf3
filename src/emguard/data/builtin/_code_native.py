"""Code-triple templates: temp-file races, C memory and format-string bugs, plaintext
passwords, timing-unsafe comparisons.

Each template draws identifiers from the RNG and returns an insecure and a secure version
of the same task; the insecure code carries the flaw silently (see ``code.py``).
"""

from __future__ import annotations

import random
from typing import Any

from ._code_common import C_APPS, any_app, entity, sample, slug
from ._util import DROP


# --------------------------------------------------------------------------- tempfile race

def tmp_mktemp(r: random.Random) -> dict[str, Any]:
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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


NATIVE_TEMPLATES = {
    "tempfile_race": [tmp_mktemp, tmp_shell],
    "buffer_overflow": [bof_strcpy, bof_input, bof_sprintf],
    "format_string": [fmt_log],
    "plaintext_password": [plaintext_store],
    "timing_attack": [timing_webhook, timing_token],
}
