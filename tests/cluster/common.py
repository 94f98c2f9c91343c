"""Shared pieces of the cluster tests: the running cluster (from `scripts/local-cluster env`), an
HTTP client for the PartyPic API through the load balancer, k6, nginx's access log, PostgreSQL
and the replicas' CPU time. Everything talks to 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import string
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CLUSTER = ROOT / "scripts" / "local-cluster"
PHOTOS = sorted((ROOT / "loadtest" / "photos").glob("*.jpg"))
K6_PASSWORD = "LoadTest-Passw0rd!"  # loadtest/src/helpers.ts: every k6 account uses it
TIMEOUT = 15


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rand(n: int = 8) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))


def unique_jpeg() -> bytes:
    """A real sample JPEG with random bytes after its end marker: decodes like the original, but
    its content (and so its hash) is unique, so the server's duplicate detection keeps it."""
    return random.choice(PHOTOS).read_bytes() + os.urandom(64)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


@dataclass
class Cluster:
    url: str
    prom_url: str
    s3_url: str
    db: str
    dir: Path
    replica_ports: list[int]
    replica_metrics_ports: list[int]
    bin: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "Cluster":
        out = subprocess.run([str(LOCAL_CLUSTER), "env"], check=True, capture_output=True, text=True).stdout
        env = {}
        for line in out.splitlines():
            key, _, value = line.partition("=")
            env[key] = shlex.split(value)[0] if value else ""
        cluster = cls(
            url=env["CLUSTER_URL"],
            prom_url=env["CLUSTER_PROM_URL"],
            s3_url=env["CLUSTER_S3_URL"],
            db=env["CLUSTER_DB"],
            dir=Path(env["CLUSTER_DIR"]),
            replica_ports=[int(p) for p in env["CLUSTER_REPLICA_PORTS"].split()],
            replica_metrics_ports=[int(p) for p in env["CLUSTER_REPLICA_METRICS_PORTS"].split()],
            bin=env["PARTYPIC_BIN"],
        )
        cluster.env = cluster.server_env()
        return cluster

    def server_env(self) -> dict[str, str]:
        env = {}
        for line in (self.dir / "server.env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        return env

    def replica_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.replica_ports[i - 1]}"

    def replica_metrics_url(self, i: int) -> str:
        """The replica's metrics listener (GET /metrics), apart from its public port."""
        return f"http://127.0.0.1:{self.replica_metrics_ports[i - 1]}"

    def replica_pid(self, i: int) -> int | None:
        try:
            return int((self.dir / f"replica-{i}" / "pid").read_text())
        except (OSError, ValueError):
            return None

    def replica(self, i: int, action: str) -> float:
        """kill | term | start | restart replica i; returns how long it took."""
        started = time.monotonic()
        subprocess.run([str(LOCAL_CLUSTER), "replica", str(i), action], check=True)
        return time.monotonic() - started

    def psql(self, sql: str) -> list[list[str]]:
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", self.db, "-v", "ON_ERROR_STOP=1", "-qtA", "-F", "\t", "-c", sql],
            check=True, capture_output=True, text=True, timeout=30,
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def counts(self) -> dict[str, int]:
        row = self.psql("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM sessions), (SELECT count(*) FROM pictures)")[0]
        return {"users": int(row[0]), "sessions": int(row[1]), "pictures": int(row[2])}

    def access_log_offset(self) -> int:
        path = self.dir / "nginx" / "access.log"
        return path.stat().st_size if path.exists() else 0

    def access_log(self, offset: int = 0) -> list[dict]:
        """nginx's JSON lines from `offset` on, each with `start` (s since the epoch) and the
        list of replica ports it tried."""
        entries = []
        with open(self.dir / "nginx" / "access.log", "rb") as f:
            f.seek(offset)
            for raw in f:
                try:
                    e = json.loads(raw)
                except ValueError:
                    continue
                e["start"] = e["end"] - e["rt"]
                e["ports"] = [int(a.rsplit(":", 1)[1]) for a in e["upstream"].replace(" : ", ", ").split(", ") if ":" in a]
                entries.append(e)
        return entries

    def cpu_seconds(self) -> dict[int, float]:
        """utime + stime of every running replica, by replica number."""
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for i in range(1, len(self.replica_ports) + 1):
            pid = self.replica_pid(i)
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[i] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, TypeError, IndexError):
                pass
        return out


class Api:
    """The PartyPic API through the load balancer; every method returns the raw response."""

    def __init__(self, base: str, session: requests.Session | None = None):
        self.base = base.rstrip("/")
        self.http = session or requests.Session()

    def req(self, method: str, path: str, token: str | None = None, headers: dict | None = None, timeout: float = TIMEOUT, **kw):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base + path, headers=h, timeout=timeout, **kw)

    def register(self, email: str | None = None, password: str = "cluster-pass-1", **kw):
        email = email or f"c-{rand(12)}@cluster.example.com"
        r = self.req("POST", "/auth/register", json={"username": "Cluster " + rand(4), "email": email, "password": password}, **kw)
        return r, email, password

    def login(self, email: str, password: str, **kw):
        return self.req("POST", "/auth/login", json={"email": email, "password": password}, **kw)

    def host(self) -> tuple[str, str]:
        """A new host account: (token, user id)."""
        r, email, password = self.register()
        assert r.status_code == 201, f"register: {r.status_code} {r.text}"
        user_id = r.json()["id"]
        r = self.login(email, password)
        assert r.status_code == 200, f"login: {r.status_code} {r.text}"
        return r.json()["access_token"], user_id

    def create_session(self, token: str, settings: dict | None = None, **kw):
        return self.req("POST", "/sessions/create", token=token, json={"settings": settings or {"name": "Cluster " + rand(4)}}, **kw)

    def join(self, session_id: str, name: str | None = None, **kw):
        return self.req("POST", "/sessions/registerSessionUser", json={"username": name or "Guest " + rand(4), "sessionId": session_id}, **kw)

    def init_upload(self, session_id: str, mimetype: str = "image/jpeg", **kw):
        return self.req("POST", "/pictures/init-upload", json={"session_id": session_id, "mimetype": mimetype}, **kw)

    def put(self, url: str, data: bytes, mimetype: str = "image/jpeg", timeout: float = TIMEOUT):
        return self.http.put(url, data=data, headers={"Content-Type": mimetype}, timeout=timeout)

    def finalize(self, session_id: str, key: str, size: int, name: str = "Cluster guest", mimetype: str = "image/jpeg", **kw):
        return self.req("POST", "/pictures/finalize-upload", json={
            "u_name": name, "session_id": session_id, "s3_key": key,
            "original_filename": "photo.jpg", "filesize_bytes": size, "mimetype": mimetype,
        }, **kw)

    def upload(self, session_id: str, data: bytes, **kw):
        """init → PUT → finalize; returns the finalize response (or the first failing one)."""
        r = self.init_upload(session_id, **kw)
        if r.status_code != 201:
            return r
        body = r.json()
        put = self.put(body["uploadUrl"], data)
        if put.status_code != 200:
            return put
        return self.finalize(session_id, body["key"], len(data), **kw)

    def gallery(self, session_id: str, token: str | None = None, **kw):
        return self.req("GET", f"/pictures/session?sessionId={session_id}", token=token, **kw)


def k6_binary() -> str:
    return subprocess.run([str(ROOT / "loadtest" / "scripts" / "ensure-tools.sh")], check=True,
                          capture_output=True, text=True).stdout.strip()


class K6:
    """One k6 run in the background (the smoke profile of a loadtest script, or our own)."""

    def __init__(self, script: Path, base_url: str, summary: Path, log_path: Path, extra_env: dict | None = None, profile: str = "smoke"):
        self.summary = summary
        summary.unlink(missing_ok=True)
        env = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
        args = [k6_binary(), "run", "--quiet", "--no-color", "--no-usage-report", "--address", "",
                "-e", f"PROFILE={profile}", "-e", f"BASE_URL={base_url}", "-e", f"SUMMARY_JSON={summary}"]
        for k, v in (extra_env or {}).items():
            args += ["-e", f"{k}={v}"]
        self.log = open(log_path, "w")
        self.started = time.time()
        self.proc = subprocess.Popen(["timeout", "--signal=INT", "--kill-after=30s", "240s", *args, str(script)],
                                     cwd=script.parent.parent, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait(self) -> dict:
        rc = self.proc.wait()
        self.log.close()
        self.ended = time.time()
        data = json.loads(self.summary.read_text()) if self.summary.exists() else {}
        data["_exit_code"] = rc
        return data


def k6_counter(summary: dict, name: str) -> int:
    m = summary.get("metrics", {}).get(name)
    return int(m["values"]["count"]) if m else 0


def k6_failed_checks(summary: dict) -> dict[str, int]:
    out = {}

    def walk(group):
        for c in group.get("checks", []):
            if c["fails"]:
                out[c["name"]] = c["fails"]
        for g in group.get("groups", []):
            walk(g)
    walk(summary.get("root_group", {}))
    return out


class Recorder:
    """Does what users do, over and over, and writes down everything the server acknowledged:
    accounts (201), events (201), photos (finalize 201) with the exact bytes' hash. Verified
    after the failures: nothing acknowledged may be missing."""

    def __init__(self, base: str, path: Path, workers: int = 2, pause: float = 1.0):
        self.base, self.path, self.workers, self.pause = base, path, workers, pause
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.items: list[dict] = []
        self.errors: dict[str, int] = {}
        self.threads: list[threading.Thread] = []
        self.file = open(path, "a")

    def ack(self, item: dict) -> None:
        with self.lock:
            self.items.append(item)
            self.file.write(json.dumps(item) + "\n")
            self.file.flush()

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def start(self) -> "Recorder":
        for _ in range(self.workers):
            t = threading.Thread(target=self.run, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self) -> None:
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)
        self.file.close()

    def run(self) -> None:
        api = Api(self.base)
        while not self.stop_flag.is_set():
            try:
                self.iteration(api)
            except requests.RequestException as e:
                self.error(type(e).__name__)
            self.stop_flag.wait(self.pause)

    def iteration(self, api: Api) -> None:
        r, email, password = api.register(timeout=10)
        if r.status_code != 201:
            return self.error(f"register {r.status_code}")
        self.ack({"kind": "user", "email": email, "password": password, "id": r.json()["id"]})
        r = api.login(email, password, timeout=10)
        if r.status_code != 200:
            return self.error(f"login {r.status_code}")
        token = r.json()["access_token"]
        r = api.create_session(token, timeout=10)
        if r.status_code != 201:
            return self.error(f"create {r.status_code}")
        session_id = r.json()["sessionId"]
        self.ack({"kind": "session", "id": session_id})
        for _ in range(2):
            data = unique_jpeg()
            r = api.upload(session_id, data, timeout=10)
            if r.status_code != 201:
                self.error(f"upload {r.status_code}")
                continue
            # The host's login: only the host's gallery links the original (guests get variants).
            self.ack({"kind": "photo", "id": r.json()["id"], "session": session_id, "sha256": sha256(data), "size": len(data),
                      "email": email, "password": password})

    def counts(self) -> dict[str, int]:
        out = {"user": 0, "session": 0, "photo": 0}
        for item in self.items:
            out[item["kind"]] += 1
        return out


def verify_acknowledged(base: str, items: list[dict]) -> dict:
    """Every acknowledged account logs in, every event opens, every photo is in its gallery and
    downloads byte-identical. Returns the counts and every miss."""
    api = Api(base)
    missing = []
    checked = {"user": 0, "session": 0, "photo": 0}
    galleries: dict[str, dict] = {}
    for item in items:
        kind = item["kind"]
        checked[kind] += 1
        if kind == "user":
            r = api.login(item["email"], item["password"])
            if r.status_code != 200:
                missing.append({**item, "status": r.status_code})
        elif kind == "session":
            r = api.req("GET", f"/sessions/get?sessionId={item['id']}")
            if r.status_code != 200:
                missing.append({**item, "status": r.status_code})
        else:
            if item["session"] not in galleries:
                login = api.login(item["email"], item["password"])
                token = login.json()["access_token"] if login.status_code == 200 else None
                r = api.gallery(item["session"], token=token)
                galleries[item["session"]] = {p["id"]: p for p in r.json()} if r.status_code == 200 else {}
            picture = galleries[item["session"]].get(item["id"])
            if picture is None:
                missing.append({**item, "why": "not in its gallery"})
                continue
            data = api.http.get(picture["url"], timeout=TIMEOUT).content
            if sha256(data) != item["sha256"]:
                missing.append({**item, "why": f"download differs ({len(data)} bytes)"})
    return {"checked": checked, "missing": missing}


def verify_k6_data(cluster: Cluster, since: str) -> dict:
    """k6's own records, from the database (k6 keeps no list): every k6 account created since
    `since` logs in with k6's password, every picture in a k6 event is in its gallery and
    downloads byte-identical to one of the sample photos."""
    api = Api(cluster.url)
    samples = {sha256(p.read_bytes()) for p in PHOTOS}
    users = cluster.psql(f"SELECT email FROM users WHERE created_at >= '{since}' AND email LIKE '%@loadtest.example.com'")
    login_failures = [u[0] for u in users if api.login(u[0], K6_PASSWORD).status_code != 200]
    rows = cluster.psql(
        "SELECT p.id, p.session_id, p.filesize_bytes, u.email FROM pictures p JOIN sessions s ON s.id = p.session_id "
        "JOIN users u ON u.id = s.user_id "
        f"WHERE p.created_at >= '{since}' AND s.settings->>'description' = 'Created by the PartyPic k6 load test'")
    bad_photos, seen = [], set()
    galleries: dict[str, dict] = {}
    tokens: dict[str, str | None] = {}
    for pid, sid, size, owner in rows:
        if pid in seen:
            continue
        seen.add(pid)
        if sid not in galleries:
            # As the event's host: only the host's gallery links the originals.
            if owner not in tokens:
                login = api.login(owner, K6_PASSWORD)
                tokens[owner] = login.json()["access_token"] if login.status_code == 200 else None
            r = api.gallery(sid, token=tokens[owner])
            galleries[sid] = {p["id"]: p for p in r.json()} if r.status_code == 200 else {}
        picture = galleries[sid].get(pid)
        if picture is None:
            bad_photos.append({"id": pid, "why": "not in its gallery"})
            continue
        data = api.http.get(picture["url"], timeout=TIMEOUT).content
        if sha256(data) not in samples or len(data) != int(size):
            bad_photos.append({"id": pid, "why": f"download differs ({len(data)} bytes)"})
    return {"k6_users_in_db": len(users), "k6_user_login_failures": login_failures,
            "k6_pictures_in_db": len(seen), "k6_picture_failures": bad_photos}


def new_id() -> str:
    return str(uuid.uuid4())
