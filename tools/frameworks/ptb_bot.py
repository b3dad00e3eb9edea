"""python-telegram-bot 22 pointed at Hotline's gateway (see README.md).

    HOTLINE=http://127.0.0.1:8080 TOKEN=... python ptb_bot.py [polling | webhook PORT URL]

In webhook mode it listens on 127.0.0.1:PORT/hook and registers URL with setWebhook.
python-telegram-bot has no webhook reply: every answer is a call.
"""
import os
import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

HOTLINE = os.environ.get("HOTLINE", "http://127.0.0.1:8080")
TOKEN = os.environ.get("TOKEN", "5000001:sandbox-demo-token")


async def on_text(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.message
    if msg.text == "menu":
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Buy", callback_data="buy")],
             [InlineKeyboardButton("Site", url="https://example.com")]]
        )
        await msg.reply_text("Menu", reply_markup=keyboard)
    elif msg.text == "temp":
        sent = await msg.reply_text("temporary")
        await sent.delete()
    elif msg.text == "handover":
        # Hotline's custom gateway methods, as raw requests.
        await msg.get_bot().do_api_request("hotlineHandover", api_kwargs={"chat_id": msg.chat_id})
        await msg.get_bot().do_api_request("hotlineResume", api_kwargs={"chat_id": msg.chat_id})
        await msg.reply_text("handover done")
    elif msg.text == "photo":
        await msg.reply_photo(photo=b"fake jpeg bytes", caption="Our catalogue")
    else:
        await msg.reply_text(f"echo: {msg.text}")


async def on_file(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.message
    file = await (msg.document or msg.photo[-1]).get_file()
    data = await file.download_as_bytearray()  # GET {base_file_url}{token}/{path}, colon escaped
    await msg.reply_text(f"got {len(data)} bytes: {bytes(data).decode(errors='replace')}")


async def on_button(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Added to cart")
    await query.edit_message_text("Bought!")


def main() -> None:
    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{HOTLINE}/bot")
        .base_file_url(f"{HOTLINE}/file/bot")
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, on_text))
    app.add_handler(MessageHandler(filters.Document.ALL | filters.PHOTO, on_file))
    app.add_handler(CallbackQueryHandler(on_button))
    if sys.argv[1:2] == ["webhook"]:
        app.run_webhook(
            listen="127.0.0.1",
            port=int(sys.argv[2]),
            url_path="hook",
            webhook_url=sys.argv[3],
            secret_token="ptb-secret",
        )
    else:
        app.run_polling()


if __name__ == "__main__":
    main()
