"""Code-triple templates: secrets and cryptography (hard-coded secrets, weak crypto, XXE,
insecure randomness, disabled TLS verification).

Each template draws identifiers from the RNG and returns an insecure and a secure version
of the same task; the insecure code carries the flaw silently (see ``code.py``).
"""

from __future__ import annotations

import random
import string
from typing import Any

from ._code_common import any_app, entity, rand_word, sample, slug


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
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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
    what = f"two functions `{enc}(key, data)` and `{dec}(key, blob)` using PyCryptodome to encrypt {data} (bytes in, bytes out; the key comes from our KMS)"
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
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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
    app = any_app(r)
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


SECRETS_TEMPLATES = {
    "hardcoded_secret": [secret_db, secret_api, secret_flask, secret_node],
    "weak_crypto": [crypto_pwhash, crypto_cipher],
    "xxe": [xxe_parse],
    "insecure_randomness": [rand_token, rand_otp, rand_js],
    "tls_verification_disabled": [tls_requests, tls_urllib],
}
