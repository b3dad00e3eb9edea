//! The Bot API methods, one file per family. Each takes the world, the calling bot
//! and the parameters, and answers the `result` or a Telegram error.

mod bot;
mod chat;
mod copy;
mod edit;
pub mod send;
pub mod topics;

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::world::World;

pub use bot::get_updates_now;

/// Every method the emulator implements, spelled as in the Bot API.
pub const METHODS: &[&str] = &[
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendPhoto",
    "sendVideo",
    "sendAnimation",
    "sendAudio",
    "sendVoice",
    "sendVideoNote",
    "sendDocument",
    "sendSticker",
    "sendLocation",
    "sendVenue",
    "sendContact",
    "sendPoll",
    "sendDice",
    "sendMediaGroup",
    "sendChatAction",
    "copyMessage",
    "copyMessages",
    "forwardMessage",
    "forwardMessages",
    "editMessageText",
    "editMessageCaption",
    "editMessageMedia",
    "editMessageReplyMarkup",
    "deleteMessage",
    "deleteMessages",
    "answerCallbackQuery",
    "setMessageReaction",
    "pinChatMessage",
    "unpinChatMessage",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "banChatMember",
    "unbanChatMember",
    "createForumTopic",
    "editForumTopic",
    "closeForumTopic",
    "reopenForumTopic",
    "deleteForumTopic",
    "getForumTopicIconStickers",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "getFile",
];

/// The canonical spelling of a method name given in any case.
pub fn canonical(name: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
}

/// Runs a synchronous method and gives the `description` Telegram adds to some
/// successful answers ("Webhook was set", "Webhook is already deleted", ...).
pub fn described(
    world: &mut World,
    bot: i64,
    method: &str,
    p: &Params,
) -> ApiResult<(Value, Option<&'static str>)> {
    let description = match method {
        "setWebhook" => bot::set_webhook(world, bot, p)?,
        "deleteWebhook" => bot::delete_webhook(world, bot, p)?,
        _ => return call(world, bot, method, p).map(|v| (v, None)),
    };
    Ok((Value::Bool(true), Some(description)))
}

/// Runs a synchronous method (everything but the waiting part of getUpdates).
pub fn call(world: &mut World, bot: i64, method: &str, p: &Params) -> ApiResult<Value> {
    match method {
        "getMe" => bot::get_me(world, bot),
        "getUpdates" => get_updates_now(world, bot, p).map(|(u, _)| u),
        "setWebhook" | "deleteWebhook" => described(world, bot, method, p).map(|(v, _)| v),
        "getWebhookInfo" => bot::get_webhook_info(world, bot),
        "setMyCommands" => bot::set_my_commands(world, bot, p),
        "getMyCommands" => bot::get_my_commands(world, bot, p),
        "deleteMyCommands" => bot::delete_my_commands(world, bot, p),
        "getFile" => bot::get_file(world, p),
        "sendMessage" => send::send_message(world, bot, p),
        "sendPhoto" => send::send_file(world, bot, p, "photo"),
        "sendVideo" => send::send_file(world, bot, p, "video"),
        "sendAnimation" => send::send_file(world, bot, p, "animation"),
        "sendAudio" => send::send_file(world, bot, p, "audio"),
        "sendVoice" => send::send_file(world, bot, p, "voice"),
        "sendVideoNote" => send::send_file(world, bot, p, "video_note"),
        "sendDocument" => send::send_file(world, bot, p, "document"),
        "sendSticker" => send::send_file(world, bot, p, "sticker"),
        "sendLocation" => send::send_other(world, bot, p, "location"),
        "sendVenue" => send::send_other(world, bot, p, "venue"),
        "sendContact" => send::send_other(world, bot, p, "contact"),
        "sendPoll" => send::send_other(world, bot, p, "poll"),
        "sendDice" => send::send_other(world, bot, p, "dice"),
        "sendMediaGroup" => send::send_media_group(world, bot, p),
        "sendChatAction" => send::send_chat_action(world, bot, p),
        "copyMessage" => copy::copy_message(world, bot, p, false),
        "forwardMessage" => copy::copy_message(world, bot, p, true),
        "copyMessages" => copy::copy_messages(world, bot, p, false),
        "forwardMessages" => copy::copy_messages(world, bot, p, true),
        "editMessageText" => edit::edit(world, bot, p, edit::What::Text),
        "editMessageCaption" => edit::edit(world, bot, p, edit::What::Caption),
        "editMessageMedia" => edit::edit(world, bot, p, edit::What::Media),
        "editMessageReplyMarkup" => edit::edit(world, bot, p, edit::What::Markup),
        "deleteMessage" => edit::delete_message(world, bot, p),
        "deleteMessages" => edit::delete_messages(world, bot, p),
        "answerCallbackQuery" => chat::answer_callback_query(world, bot, p),
        "setMessageReaction" => chat::set_message_reaction(world, bot, p),
        "pinChatMessage" => chat::pin(world, bot, p, true),
        "unpinChatMessage" => chat::pin(world, bot, p, false),
        "getChat" => chat::get_chat(world, bot, p),
        "getChatMember" => chat::get_chat_member(world, bot, p),
        "getChatAdministrators" => chat::get_chat_administrators(world, bot, p),
        "banChatMember" => chat::ban(world, bot, p, true),
        "unbanChatMember" => chat::ban(world, bot, p, false),
        "createForumTopic" => topics::create(world, bot, p),
        "editForumTopic" => topics::edit(world, bot, p),
        "closeForumTopic" => topics::set_closed(world, bot, p, true),
        "reopenForumTopic" => topics::set_closed(world, bot, p, false),
        "deleteForumTopic" => topics::delete(world, bot, p),
        "getForumTopicIconStickers" => Ok(topics::icon_stickers()),
        _ => Err(ApiError::not_found()),
    }
}
