//! teloxide pointed at Hotline's gateway (see ../README.md).
//!
//!     HOTLINE=http://127.0.0.1:8080 TOKEN=... teloxide_bot polling
//!     TELOXIDE_API_URL=http://127.0.0.1:8080 TELOXIDE_TOKEN=... teloxide_bot webhook PORT URL
//!
//! Polling sets the address with `set_api_url`, webhook mode takes it from the environment
//! (`Bot::from_env`): the guide's two lines.
//! teloxide has no webhook reply: in both modes every answer is a call to the gateway.
use std::error::Error;
use std::sync::Arc;

use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::requests::{JsonRequest, Payload};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, InputFile, True};
use teloxide::update_listeners::webhooks;

/// Hotline's custom gateway methods: a teloxide `Payload` names the method and its answer.
#[derive(Clone, serde::Serialize)]
struct HotlineHandover {
    chat_id: ChatId,
}

impl Payload for HotlineHandover {
    type Output = True;
    const NAME: &'static str = "hotlineHandover";
}

#[derive(Clone, serde::Serialize)]
struct HotlineResume {
    chat_id: ChatId,
}

impl Payload for HotlineResume {
    type Output = True;
    const NAME: &'static str = "hotlineResume";
}

type HandlerResult = Result<(), Box<dyn Error + Send + Sync>>;

async fn on_message(bot: Bot, msg: Message) -> HandlerResult {
    let chat = msg.chat.id;
    let file_id = match (msg.document(), msg.photo()) {
        (Some(doc), _) => Some(doc.file.id.clone()),
        (None, Some(sizes)) => sizes.last().map(|p| p.file.id.clone()),
        _ => None,
    };
    if let Some(file_id) = file_id {
        let file = bot.get_file(file_id).await?;
        let mut body = Vec::new();
        // GET {api_url}/file/bot{token}/{path}, the path pushed as one URL segment.
        bot.download_file(&file.path, &mut body).await?;
        let text = format!(
            "got {} bytes: {}",
            body.len(),
            String::from_utf8_lossy(&body)
        );
        bot.send_message(chat, text).await?;
        return Ok(());
    }
    match msg.text() {
        Some("menu") => {
            let keyboard = InlineKeyboardMarkup::new(vec![
                vec![InlineKeyboardButton::callback("Buy", "buy")],
                vec![InlineKeyboardButton::url(
                    "Site",
                    "https://example.com".parse()?,
                )],
            ]);
            bot.send_message(chat, "Menu")
                .reply_markup(keyboard)
                .await?;
        }
        Some("temp") => {
            let sent = bot.send_message(chat, "temporary").await?;
            bot.delete_message(chat, sent.id).await?;
        }
        Some("handover") => {
            JsonRequest::new(bot.clone(), HotlineHandover { chat_id: chat }).await?;
            JsonRequest::new(bot.clone(), HotlineResume { chat_id: chat }).await?;
            bot.send_message(chat, "handover done").await?;
        }
        Some("photo") => {
            let photo = InputFile::memory(&b"fake jpeg bytes"[..]).file_name("p.jpg");
            bot.send_photo(chat, photo).caption("Our catalogue").await?;
        }
        Some(text) => {
            bot.send_message(chat, format!("echo: {text}")).await?;
        }
        None => {}
    }
    Ok(())
}

async fn on_callback(bot: Bot, q: CallbackQuery) -> HandlerResult {
    if q.data.as_deref() != Some("buy") {
        return Ok(());
    }
    bot.answer_callback_query(q.id.clone())
        .text("Added to cart")
        .await?;
    if let Some(msg) = q.regular_message() {
        bot.edit_message_text(msg.chat.id, msg.id, "Bought!")
            .await?;
    }
    Ok(())
}

async fn report(e: Box<dyn Error + Send + Sync>) {
    eprintln!("teloxide_bot: handler error: {e}");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    let webhook = args.get(1).map(String::as_str) == Some("webhook");
    let bot = if webhook {
        // The guide's other line: TELOXIDE_TOKEN and TELOXIDE_API_URL (run.sh sets both).
        Bot::from_env()
    } else {
        let hotline = std::env::var("HOTLINE").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
        let token = std::env::var("TOKEN").unwrap_or_else(|_| "5000001:sandbox-demo-token".into());
        Bot::new(token).set_api_url(hotline.parse()?)
    };

    let handler = dptree::entry()
        .branch(Update::filter_message().endpoint(on_message))
        .branch(Update::filter_callback_query().endpoint(on_callback));
    let mut dispatcher = Dispatcher::builder(bot.clone(), handler)
        .error_handler(Arc::new(report))
        .enable_ctrlc_handler()
        .build();

    if webhook {
        let port: u16 = args.get(2).ok_or("webhook needs a PORT")?.parse()?;
        let url: url::Url = args.get(3).ok_or("webhook needs a URL")?.parse()?;
        let options = webhooks::Options::new(([127, 0, 0, 1], port).into(), url)
            .secret_token("teloxide-secret".into());
        let listener = webhooks::axum(bot, options).await?;
        dispatcher
            .dispatch_with_listener(listener, LoggingErrorHandler::with_custom_text("webhook"))
            .await;
    } else {
        // The default polling listener deletes a webhook first.
        dispatcher.dispatch().await;
    }
    Ok(())
}
