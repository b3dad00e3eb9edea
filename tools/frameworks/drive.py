"""Drives one framework bot through Hotline like a user would, via the emulator's control API,
and checks what the user and the team's topic see. Standard library only.

    python drive.py --emulator URL --hotline URL --token TOKEN --name ptb-polling \
        [--relay PORT --upstream PORT] [--json results.jsonl]

Needs Hotline (with a gateway connection for TOKEN) and the emulator running, and one bot
from this directory started against Hotline. In webhook mode the bot registers
http://127.0.0.1:RELAY/hook: this script listens there, passes each push on to the bot's own
server (UPSTREAM) and records the bot's answers, so it can tell whether the echo came back as
a webhook reply (a method call in the answer). Exit status 0 when every check passed.
"""
import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEADLINE = 20.0

# The checks, in the order of the results table (run.sh prints them as columns).
CHECKS = {
    "answer": "the bot receives the user's message and its answer reaches the user",
    "order": "the topic mirrors the user's message, then the bot's answer",
    "button": "inline keyboard sent and mirrored, the button pressed, the callback answered",
    "edit": "editMessageText applied in the user's chat and to the topic copy",
    "delete": "deleteMessage: gone from the user's chat, noted under the topic copy",
    "upload": "sendPhoto (multipart upload) reaches the user and is mirrored",
    "download": "a document the user sends is downloaded with the framework's download API",
    "handover": "the bot calls hotlineHandover then hotlineResume (custom methods) with the framework's raw call",
    "reply": "the echo came back as a webhook reply, was executed and mirrored",
}


def get_json(url: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


class Relay(BaseHTTPRequestHandler):
    """Passes webhook pushes on to the bot and records each answer's method (if any)."""

    upstream = 0
    replies = []  # (update, content type, method or None)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
        req = urllib.request.Request(f"http://127.0.0.1:{self.upstream}{self.path}", data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, ctype, answer = r.status, r.headers.get("content-type", ""), r.read()
        except urllib.error.HTTPError as e:
            status, ctype, answer = e.code, e.headers.get("content-type", ""), e.read()
        except OSError:
            status, ctype, answer = 502, "text/plain", b"bot unreachable"
        Relay.replies.append((json.loads(body or b"{}"), ctype, reply_method(ctype, answer)))
        self.send_response(status)
        if ctype:
            self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_args) -> None:
        pass


def reply_method(ctype: str, body: bytes):
    """The `method` of a webhook answer: JSON, urlencoded or multipart form data."""
    ctype = ctype.lower()
    text = body.decode(errors="replace")
    if "json" in ctype or text.lstrip().startswith("{"):
        try:
            return json.loads(text).get("method")
        except (ValueError, AttributeError):
            return None
    if "x-www-form-urlencoded" in ctype:
        from urllib.parse import parse_qs
        return (parse_qs(text).get("method") or [None])[0]
    if "multipart/form-data" in ctype:
        for part in text.split("--"):
            if 'name="method"' in part:
                return part.split("\r\n\r\n", 1)[-1].strip()
    return None


class Driver:
    def __init__(self, a) -> None:
        self.emu = a.emulator.rstrip("/")
        self.hotline = a.hotline.rstrip("/")
        self.token = a.token
        self.bot = int(a.token.split(":")[0])
        self.name = a.name
        self.webhook = a.relay is not None
        self.relay_url = f"http://127.0.0.1:{a.relay}/hook" if self.webhook else ""
        self.results = {}
        self.group = next(
            g["id"] for g in self.call("world")["groups"]
            if g.get("is_forum") and any(m["user"]["id"] == self.bot for m in g["members"])
        )

    def call(self, path: str, body=None):
        answer = get_json(f"{self.emu}/control/{path}", body)
        if not answer.get("ok"):
            raise RuntimeError(f"{path}: {answer}")
        return answer["result"]

    def wait(self, check: str, what: str, probe, deadline=DEADLINE):
        """Polls `probe` until it returns something; records a failure of `check` if never."""
        end = time.time() + deadline
        while time.time() < end:
            got = probe()
            if got:
                print(f"  ok   {what}")
                return got
            time.sleep(0.2)
        print(f"  FAIL {what}")
        self.results[check] = "FAIL"
        return None

    def passed(self, check: str) -> None:
        self.results.setdefault(check, "PASS")

    def chat(self):
        return self.call(f"transcript?bot={self.bot}&user={self.user}")

    def topic(self):
        for t in self.call(f"topics?chat_id={self.group}"):
            if self.first_name in t["name"]:
                return self.call(f"transcript?chat_id={self.group}&message_thread_id={t['message_thread_id']}")
        return []

    def from_bot(self, pred):
        return next((m for m in self.chat() if m.get("from", {}).get("id") == self.bot and pred(m)), None)

    def in_topic(self, pred):
        return next((m for m in self.topic() if pred(m)), None)

    def say(self, text: str) -> None:
        self.call("send", {"from": self.user, "bot": self.bot, "text": text})

    def webhook_ready(self) -> bool:
        info = get_json(f"{self.hotline}/bot{self.token}/getWebhookInfo").get("result") or {}
        return info.get("url", "") == self.relay_url

    def check_replies(self) -> None:
        """Which pushes the bot answered with a method call, and whether those calls' effects
        (asserted by the other checks) were seen: a webhook reply is executed and mirrored."""
        methods = sorted({m for _, _, m in Relay.replies if m})
        if not methods:
            print("  --   the framework answered every push without a method (no webhook reply)")
            self.results["reply"] = "n/a"
            return
        effects = {"sendmessage": ["answer", "order"], "answercallbackquery": ["button"],
                   "editmessagetext": ["edit"], "deletemessage": ["delete"]}
        ctypes = sorted({c.split(";")[0] for _, c, m in Relay.replies if m})
        failed = [c for m in methods for c in effects.get(m.lower(), []) if self.results.get(c) != "PASS"]
        print(f"  {'FAIL' if failed else 'ok  '} webhook replies {', '.join(methods)} ({', '.join(ctypes)}) executed and mirrored")
        self.results["reply"] = ("FAIL " if failed else "PASS ") + ", ".join(methods)

    def run(self) -> dict:
        def text(m):
            return m.get("text") or m.get("caption") or ""

        # The bot sets (or deletes) its webhook when it starts.
        if not self.wait("answer", "the bot registered its webhook" if self.webhook else "no webhook set", self.webhook_ready, 60):
            return self.results
        self.first_name = f"Tester {self.name} {int(time.time() * 1000) % 100000}"
        self.user = self.call("users", {"first_name": self.first_name})["id"]
        print(f"{self.name}: user {self.user}")

        self.say("hello")
        if self.wait("answer", "the bot answers the user (echo)", lambda: self.from_bot(lambda m: text(m) == "echo: hello"), 60):
            self.passed("answer")

        def in_order():
            msgs = [text(m) for m in self.topic()]
            return "hello" in msgs and "🤖 echo: hello" in msgs[msgs.index("hello"):]
        if self.wait("order", "the topic shows 'hello', then '🤖 echo: hello'", in_order):
            self.passed("order")
        self.say("menu")
        menu = self.wait("button", "sendMessage with an inline keyboard", lambda: self.from_bot(lambda m: text(m) == "Menu"))
        if menu:
            rows = menu.get("reply_markup", {}).get("inline_keyboard", [])
            buttons = [b for row in rows for b in row]
            if [b.get("callback_data") for b in buttons][:1] != ["buy"] or buttons[-1].get("url", "").rstrip("/") != "https://example.com":
                print(f"  FAIL keyboard as sent: {rows}")
                self.results["button"] = "FAIL"
            extra = sorted({k for b in buttons for k in b} - {"text", "callback_data", "url"})
            if extra:
                print(f"  FAIL the keyboard came back with fields Telegram drops: {extra}")
                self.results["button"] = "FAIL"
        copy = self.wait("button", "the menu mirrored, buttons listed", lambda: self.in_topic(lambda m: text(m).startswith("🤖 Menu") and "[Buy]" in text(m)))
        if menu:
            press = self.call("press", {"from": self.user, "bot": self.bot, "message_id": menu["message_id"], "data": "buy"})
            if self.wait("button", "answerCallbackQuery", lambda: (self.call(f"callbacks/{press}") or {}).get("text") == "Added to cart"):
                self.passed("button")
            if self.wait("edit", "editMessageText in the user's chat", lambda: self.from_bot(lambda m: m["message_id"] == menu["message_id"] and text(m) == "Bought!")) and copy:
                if self.wait("edit", "the edit applied to the topic copy", lambda: self.in_topic(lambda m: m["message_id"] == copy["message_id"] and text(m).startswith("🤖 Bought!"))):
                    self.passed("edit")
        else:
            self.results["edit"] = "FAIL"

        self.say("temp")
        temp = self.wait("delete", "the temporary message mirrored", lambda: self.in_topic(lambda m: text(m) == "🤖 temporary"))
        if temp and self.wait("delete", "deleteMessage noted under the copy", lambda: self.in_topic(
                lambda m: "The bot deleted this message" in text(m) and (m.get("reply_to_message") or {}).get("message_id") == temp["message_id"])):
            if self.from_bot(lambda m: text(m) == "temporary"):
                print("  FAIL the temporary message is still in the user's chat")
                self.results["delete"] = "FAIL"
            self.passed("delete")

        self.say("photo")
        if self.wait("upload", "sendPhoto (upload) reaches the user", lambda: self.from_bot(lambda m: "photo" in m and text(m) == "Our catalogue")) and \
                self.wait("upload", "the photo mirrored", lambda: self.in_topic(lambda m: "photo" in m and text(m).startswith("🤖 Our catalogue"))):
            self.passed("upload")

        content = f"report of {self.name}"
        self.call("send", {"from": self.user, "bot": self.bot, "document": {"file_name": "report.txt", "mime_type": "text/plain", "content": content}})
        if self.wait("download", "document download (getFile + the framework's download)", lambda: self.from_bot(lambda m: text(m) == f"got {len(content)} bytes: {content}")):
            photo = f"photo of {self.name}"
            self.call("send", {"from": self.user, "bot": self.bot, "photo": {"file_name": "p.jpg", "mime_type": "image/jpeg", "content": photo}})
            if self.wait("download", "photo download (its largest size)", lambda: self.from_bot(lambda m: text(m) == f"got {len(photo)} bytes: {photo}")):
                self.passed("download")

        self.say("handover")
        if self.wait("handover", "hotlineHandover + hotlineResume answered", lambda: self.from_bot(lambda m: text(m) == "handover done")) and \
                self.wait("handover", "the topic notes the pause and the resume by the bot", lambda: self.in_topic(lambda m: "⏸" in text(m) and "by the bot" in text(m))
                          and self.in_topic(lambda m: "▶️" in text(m) and "by the bot" in text(m))):
            self.passed("handover")

        if self.webhook:
            self.check_replies()

        failed = [c for c, r in self.results.items() if r == "FAIL"]
        print(f"{self.name}: {'PASS' if not failed else 'FAIL: ' + ', '.join(failed)}")
        return self.results


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--emulator", required=True, help="the emulator's base URL (control API)")
    p.add_argument("--hotline", required=True, help="Hotline's base URL (the gateway)")
    p.add_argument("--token", required=True, help="the connected bot's token")
    p.add_argument("--name", required=True)
    p.add_argument("--relay", type=int, help="webhook mode: listen here for Hotline's pushes")
    p.add_argument("--upstream", type=int, help="webhook mode: the bot's own webhook port")
    p.add_argument("--intake", default="polling", help="Hotline's own intake mode (for the table)")
    p.add_argument("--json", help="append {name, results} as one JSON line to this file")
    a = p.parse_args()
    if a.relay is not None:
        Relay.upstream = a.upstream
        server = ThreadingHTTPServer(("127.0.0.1", a.relay), Relay)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        results = Driver(a).run()
    except Exception as e:  # noqa: BLE001 (the table must still get a row)
        print(f"{a.name}: the driver failed: {e!r}")
        results = {}
    for check in CHECKS:
        results.setdefault(check, "n/a" if check == "reply" and a.relay is None else results.get(check, "FAIL"))
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps({"name": a.name, "results": {"intake": a.intake, **results}}) + "\n")
    sys.exit(1 if any(str(v).startswith("FAIL") for v in results.values()) else 0)


if __name__ == "__main__":
    main()
