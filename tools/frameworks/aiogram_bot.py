"""aiogram 3 pointed at Hotline's gateway (see README.md).

    HOTLINE=http://127.0.0.1:8080 TOKEN=... python aiogram_bot.py [polling | webhook PORT URL]

In webhook mode the echo is returned from the handler, so aiogram answers the webhook with
the method call as multipart/form-data (handle_in_background=False).
"""
import asyncio
import os
import sys

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

HOTLINE = os.environ.get("HOTLINE", "http://127.0.0.1:8080")
TOKEN = os.environ.get("TOKEN", "5000001:sandbox-demo-token")

class HotlineHandover(TelegramMethod[bool]):
    """Hotline's custom gateway method (a method aiogram does not know is a TelegramMethod)."""

    __returning__ = bool
    __api_method__ = "hotlineHandover"
    chat_id: int


class HotlineResume(TelegramMethod[bool]):
    __returning__ = bool
    __api_method__ = "hotlineResume"
    chat_id: int


bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(HOTLINE)))
dp = Dispatcher()


@dp.message(F.text == "menu")
async def menu(msg: Message) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text="Buy", callback_data="buy")],
        [InlineKeyboardButton(text="Site", url="https://example.com")],
    ])
    await msg.answer("Menu", reply_markup=keyboard)


@dp.message(F.text == "temp")
async def temp(msg: Message) -> None:
    sent = await msg.answer("temporary")
    await sent.delete()


@dp.message(F.text == "handover")
async def handover(msg: Message) -> None:
    await bot(HotlineHandover(chat_id=msg.chat.id))
    await bot(HotlineResume(chat_id=msg.chat.id))
    await msg.answer("handover done")


@dp.message(F.text == "photo")
async def photo(msg: Message) -> None:
    await msg.answer_photo(BufferedInputFile(b"fake jpeg bytes", "p.jpg"), caption="Our catalogue")


@dp.message(F.document | F.photo)
async def download(msg: Message) -> None:
    file = await bot.get_file((msg.document or msg.photo[-1]).file_id)
    data = await bot.download_file(file.file_path)  # GET {base}/file/bot{token}/{path}
    body = data.read()
    await msg.answer(f"got {len(body)} bytes: {body.decode(errors='replace')}")


@dp.message(F.text)
async def echo(msg: Message) -> SendMessage:
    # Returned, not awaited: in webhook mode it becomes the webhook's (multipart) answer.
    return SendMessage(chat_id=msg.chat.id, text=f"echo: {msg.text}")


@dp.callback_query(F.data == "buy")
async def buy(cb: CallbackQuery) -> None:
    await cb.answer("Added to cart")
    await cb.message.edit_text("Bought!")


async def polling() -> None:
    await bot.delete_webhook()
    await dp.start_polling(bot)


def webhook(port: int, url: str) -> None:
    from aiohttp import web
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

    async def on_startup(bot: Bot) -> None:  # aiogram passes it by this name
        await bot.set_webhook(url, secret_token="aiogram-secret")

    dp.startup.register(on_startup)
    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="aiogram-secret", handle_in_background=False).register(app, path="/hook")
    setup_application(app, dp, bot=bot)
    web.run_app(app, host="127.0.0.1", port=port)


if __name__ == "__main__":
    if sys.argv[1:2] == ["webhook"]:
        webhook(int(sys.argv[2]), sys.argv[3])
    else:
        asyncio.run(polling())
