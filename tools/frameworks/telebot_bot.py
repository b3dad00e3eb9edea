"""pyTelegramBotAPI (telebot) pointed at Hotline's gateway (see README.md).

    HOTLINE=http://127.0.0.1:8080 TOKEN=... python telebot_bot.py [polling | webhook PORT URL]

pyTelegramBotAPI has no webhook server of its own for plain HTTP: the updates are fed to
process_new_updates from a small http.server handler, and every answer is a call.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import telebot
from telebot import apihelper, types

HOTLINE = os.environ.get("HOTLINE", "http://127.0.0.1:8080")
TOKEN = os.environ.get("TOKEN", "5000001:sandbox-demo-token")

apihelper.API_URL = HOTLINE + "/bot{0}/{1}"
apihelper.FILE_URL = HOTLINE + "/file/bot{0}/{1}"
bot = telebot.TeleBot(TOKEN)


@bot.message_handler(content_types=["text"])
def on_text(msg: types.Message) -> None:
    if msg.text == "menu":
        keyboard = types.InlineKeyboardMarkup()
        keyboard.row(types.InlineKeyboardButton("Buy", callback_data="buy"))
        keyboard.row(types.InlineKeyboardButton("Site", url="https://example.com"))
        bot.send_message(msg.chat.id, "Menu", reply_markup=keyboard)
    elif msg.text == "temp":
        sent = bot.send_message(msg.chat.id, "temporary")
        bot.delete_message(msg.chat.id, sent.message_id)
    elif msg.text == "handover":
        # No public raw call in pyTelegramBotAPI: its request helper takes any method name.
        apihelper._make_request(TOKEN, "hotlineHandover", params={"chat_id": msg.chat.id}, method="post")
        apihelper._make_request(TOKEN, "hotlineResume", params={"chat_id": msg.chat.id}, method="post")
        bot.send_message(msg.chat.id, "handover done")
    elif msg.text == "photo":
        bot.send_photo(msg.chat.id, b"fake jpeg bytes", caption="Our catalogue")
    else:
        bot.send_message(msg.chat.id, f"echo: {msg.text}")


@bot.message_handler(content_types=["document", "photo"])
def on_file(msg: types.Message) -> None:
    file_id = msg.document.file_id if msg.document else msg.photo[-1].file_id
    info = bot.get_file(file_id)
    data = bot.download_file(info.file_path)  # GET FILE_URL.format(token, path)
    bot.send_message(msg.chat.id, f"got {len(data)} bytes: {data.decode(errors='replace')}")


@bot.callback_query_handler(func=lambda c: c.data == "buy")
def on_buy(cb: types.CallbackQuery) -> None:
    bot.answer_callback_query(cb.id, "Added to cart")
    bot.edit_message_text("Bought!", cb.message.chat.id, cb.message.message_id)


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        if self.headers.get("X-Telegram-Bot-Api-Secret-Token") != "telebot-secret":
            self.send_response(403)
            self.end_headers()
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        bot.process_new_updates([types.Update.de_json(json.loads(body))])
        self.send_response(200)
        self.end_headers()


if __name__ == "__main__":
    if sys.argv[1:2] == ["webhook"]:
        port = int(sys.argv[2])
        bot.set_webhook(sys.argv[3], secret_token="telebot-secret")
        ThreadingHTTPServer(("127.0.0.1", port), Hook).serve_forever()
    else:
        bot.remove_webhook()
        bot.infinity_polling()
