//! Any bytes as a Telegram update: decoding and every reader the relay applies to an
//! update or message must answer (or refuse), never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use hotline::domain::content;

fuzz_target!(|data: &[u8]| {
    let Ok(update) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = hotline::gateway::push::lane_of(&update);
    for key in [
        "message",
        "edited_message",
        "channel_post",
        "business_message",
        "callback_query",
    ] {
        let msg = &update[key];
        let kind = content::kind(msg);
        let _ = content::copyable(&kind);
        let _ = content::text(msg);
        let _ = content::text_or_caption(msg);
        let _ = content::explicit_reply(msg);
        let _ = content::start_param(msg);
        let snapshot = content::edit_snapshot(msg);
        let _ = content::input_media(&snapshot);
        let _ = content::sender_name(msg);
        if let Some(text) = msg["text"].as_str() {
            let _ = hotline::commands::parse::parse(text);
        }
    }
});
