"""Drives one framework bot through Hotline like a user would, via the emulator's control API,
and checks what the user and the team's topic see. Standard library only.

    python drive.py --emulator http://127.0.0.1:8090 --name ptb-polling

Needs `hotline sandbox` running (its demo bot token is what the bots use) and one bot from
this directory started against Hotline. Exit status 0 when every check passed.
"""
import argparse
import json
import sys
import time
import urllib.parse
import urllib.request

DEADLINE = 20.0


class Driver:
    def __init__(self, emulator: str, bot: int, group: int, name: str) -> None:
        self.emu, self.bot, self.group, self.name = emulator.rstrip("/"), bot, group, name
        self.failures = []

    def call(self, path: str, body=None):
        url = f"{self.emu}/control/{path}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = json.load(r)
        if not answer.get("ok"):
            raise RuntimeError(f"{path}: {answer}")
        return answer["result"]

    def wait(self, what: str, probe):
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            got = probe()
            if got:
                print(f"  ok   {what}")
                return got
            time.sleep(0.2)
        print(f"  FAIL {what}")
        self.failures.append(what)
        return None

    def chat(self):
        return self.call(f"transcript?bot={self.bot}&user={self.user}")

    def topic(self):
        for t in self.call(f"topics?chat_id={self.group}"):
            if t["name"].startswith(self.first_name):
                return self.call(f"transcript?chat_id={self.group}&message_thread_id={t['message_thread_id']}")
        return []

    def from_bot(self, pred):
        return next((m for m in self.chat() if m.get("from", {}).get("id") == self.bot and pred(m)), None)

    def in_topic(self, pred):
        return next((m for m in self.topic() if pred(m)), None)

    def say(self, text: str) -> None:
        self.call("send", {"from": self.user, "bot": self.bot, "text": text})

    def run(self) -> int:
        self.first_name = f"Tester {self.name} {int(time.time() * 1000) % 100000}"
        self.user = self.call("users", {"first_name": self.first_name})["id"]
        print(f"{self.name}: user {self.user}")

        def text(m):
            return m.get("text") or m.get("caption") or ""

        self.say("hello")
        self.wait("echo (a plain call, or a webhook reply)", lambda: self.from_bot(lambda m: text(m) == "echo: hello"))
        self.wait("the echo mirrored in the topic", lambda: self.in_topic(lambda m: text(m).startswith("🤖 echo: hello")))

        self.say("menu")
        menu = self.wait("sendMessage with an inline keyboard", lambda: self.from_bot(lambda m: text(m) == "Menu"))
        if menu:
            rows = menu.get("reply_markup", {}).get("inline_keyboard", [])
            buttons = [b for row in rows for b in row]
            if [b.get("callback_data") for b in buttons][:1] != ["buy"] or buttons[-1].get("url") != "https://example.com/":
                if buttons[-1].get("url") != "https://example.com":
                    print(f"  FAIL keyboard as sent: {rows}")
                    self.failures.append("keyboard")
            extra = sorted({k for b in buttons for k in b} - {"text", "callback_data", "url"})
            if extra:
                print(f"  FAIL the keyboard came back with fields Telegram drops: {extra}")
                self.failures.append("unknown button fields echoed")
        copy = self.wait("the menu mirrored, buttons listed", lambda: self.in_topic(lambda m: text(m).startswith("🤖 Menu") and "[Buy]" in text(m)))
        if menu:
            press = self.call("press", {"from": self.user, "bot": self.bot, "message_id": menu["message_id"], "data": "buy"})
            self.wait("answerCallbackQuery", lambda: (self.call(f"callbacks/{press}") or {}).get("text") == "Added to cart")
            self.wait("editMessageText in the user's chat", lambda: self.from_bot(lambda m: m["message_id"] == menu["message_id"] and text(m) == "Bought!"))
        if copy:
            self.wait("the edit applied to the topic copy", lambda: self.in_topic(lambda m: m["message_id"] == copy["message_id"] and text(m).startswith("🤖 Bought!")))

        self.say("temp")
        self.wait("deleteMessage noted in the topic", lambda: self.in_topic(lambda m: "The bot deleted this message" in text(m)))

        self.say("photo")
        self.wait("sendPhoto (upload) reaches the user", lambda: self.from_bot(lambda m: "photo" in m and text(m) == "Our catalogue"))
        self.wait("the photo mirrored", lambda: self.in_topic(lambda m: "photo" in m and text(m).startswith("🤖 Our catalogue")))

        content = f"report of {self.name}"
        self.call("send", {"from": self.user, "bot": self.bot, "document": {"file_name": "report.txt", "mime_type": "text/plain", "content": content}})
        self.wait("file download (getFile + /file/bot<token>/<path>)", lambda: self.from_bot(lambda m: text(m) == f"got {len(content)} bytes: {content}"))

        print(f"{self.name}: {'PASS' if not self.failures else 'FAIL: ' + ', '.join(self.failures)}")
        return 1 if self.failures else 0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--emulator", default="http://127.0.0.1:8090")
    p.add_argument("--bot", type=int, default=5000001, help="the sandbox's demo bot")
    p.add_argument("--group", type=int, default=-1000000000001, help="the sandbox's forum group")
    p.add_argument("--name", required=True)
    a = p.parse_args()
    sys.exit(Driver(a.emulator, a.bot, a.group, a.name).run())


if __name__ == "__main__":
    main()
