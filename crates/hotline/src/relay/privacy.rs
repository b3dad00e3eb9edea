//! `MASK_PATTERNS` and HIDE_INFO in the group copy of a user message: a text with data to
//! mask is sent masked (the matching itself lives in `domain::mask`), a message that could
//! only be forwarded is replaced by a placeholder. The user's original is untouched.

use serde_json::Value;

use super::actions::SendIn;
use crate::config::Params;
use crate::domain::resend;
use crate::domain::{content, render, Context};
use crate::store::{StoreError, Tx};

use crate::domain::mask::mask_item;

/// A user message whose group copy must differ from the original: its text has data
/// to mask (sent by file id with the masked text), or it could only be forwarded,
/// which would show the user's profile under HIDE_INFO name/links (a placeholder is
/// posted instead). Returns true when handled here.
pub(super) async fn private_copy(
    ctx: &Context,
    tx: &mut Tx,
    params: &Params,
    msg: &Value,
    dialog: i64,
    reply_to: Option<i64>,
) -> Result<bool, StoreError> {
    let kind = content::kind(msg);
    let hide = params.hide_info;
    if !content::copyable(&kind) {
        if !(hide.name || hide.links) {
            return Ok(false);
        }
        let text = format!(
            "📎 The user sent a {} message. Telegram can only forward it, which would \
             show their profile (HIDE_INFO), so it is not shown here.",
            render::html(&kind)
        );
        ctx.notice(tx, Some(dialog), reply_to, text).await?;
        return Ok(true);
    }
    if !params.mask_patterns.any() {
        return Ok(false);
    }
    let (Some(mut item), Some(id)) = (resend::item(msg), msg["message_id"].as_i64()) else {
        return Ok(false);
    };
    if !mask_item(&mut item, &params.mask_patterns) {
        return Ok(false);
    }
    let send = SendIn {
        dialog,
        ids: vec![id],
        items: vec![item],
        reply_to,
        kind,
    };
    ctx.to_group(tx, Some(dialog), &send).await?;
    Ok(true)
}
