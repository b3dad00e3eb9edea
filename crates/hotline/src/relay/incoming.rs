//! A user writes to the bot: filters, contact and dialog, first contact, reopening,
//! and the copy into the topic (albums buffered into one copy).

use serde_json::Value;

use super::actions::{CopyIn, CopyOut, SendIn};
use super::{gate, privacy};
use crate::domain::events::Event;
use crate::domain::resend;
use crate::domain::topics::{Card, Say};
use crate::domain::{content, render, Context};
use crate::outbox::{Action, Lane};
use crate::store::{now_ms, ContactProfile, DialogStatus, StoreError, Tx};

/// How long album parts are awaited before the album is copied as one.
pub const ALBUM_WAIT_MS: i64 = 800;

/// copyMessages takes at most 100 ids.
const MAX_BURST: usize = 100;

/// A private message from a user. While its dialog has no topic, the dialog's group work
/// moves to [`Lane::NewDialog`], ahead of the follow-ups of dialogs the team already sees.
pub(super) async fn user_message(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
) -> Result<(), StoreError> {
    if let Some(dialog) = relay_user_message(ctx, tx, msg).await? {
        let group = ctx.group_of_id(tx, dialog).await?;
        tx.outbox_promote_new_dialog(ctx.connection, group, dialog)
            .await?;
    }
    Ok(())
}

/// [`user_message`]'s work; returns the dialog when it has no topic yet.
async fn relay_user_message(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
) -> Result<Option<i64>, StoreError> {
    let from = &msg["from"];
    let Some(user_id) = from["id"].as_i64() else {
        return Ok(None);
    };
    if from["is_bot"] == true {
        return Ok(None);
    }
    let params = ctx.params();
    if !params.admits(user_id) {
        return Ok(None);
    }
    let now = now_ms();
    let profile = ContactProfile {
        user_id,
        first_name: from["first_name"].as_str().unwrap_or("").to_string(),
        last_name: from["last_name"].as_str().map(str::to_string),
        username: from["username"].as_str().map(str::to_string),
        language_code: from["language_code"].as_str().map(str::to_string),
    };
    let start = content::start_param(msg);
    let contact = tx
        .contact_wrote(ctx.connection, &profile, start.as_deref(), now)
        .await?;
    if contact.banned {
        return Ok(None);
    }
    let text = content::text(msg);
    if !params.restricted_keywords.is_off() && params.restricted_keywords.matches(text) {
        return Ok(None);
    }
    let existing = tx.dialog_for_contact(ctx.connection, contact.id).await?;
    let open = existing
        .as_ref()
        .is_some_and(|d| d.activated && d.status != DialogStatus::Closed);
    if !params.private_keywords.is_off() && !open && !params.private_keywords.matches(text) {
        // The bot talks alone until the user asks for a human.
        ctx.remember_for_recap(tx, user_id, "user", msg, now)
            .await?;
        return Ok(None);
    }
    let initial = if params.leave_closed {
        DialogStatus::Closed
    } else {
        DialogStatus::New
    };
    let (dialog, created) = match existing {
        Some(d) => (d, false),
        None => ctx.open_dialog(tx, contact.id, initial, now).await?,
    };
    // The spam gate decides where a dialog would get a new topic: over the hour's cap it
    // waits in a queue, its messages kept for `/admit` (see `gate`).
    let waiting = if created {
        gate::holds(ctx, tx, dialog.id, now).await?
    } else {
        dialog.thread_id.is_none() && tx.gate_is_waiting(dialog.id).await?
    };
    let activating = !dialog.activated;
    if activating {
        tx.set_dialog_activated(dialog.id, true).await?;
    }
    // A bot behind the gateway greets its users itself: the built-in texts would surprise
    // them (a WELCOME of your own is still sent; see docs/parallel-connection.md).
    let quiet = |text: Option<&String>| {
        ctx.gateway_in_use() && crate::config::is_builtin_greeting(text.map(|s| s.as_str()))
    };
    let welcome = params
        .welcome_for(&contact.first_name)
        .filter(|_| !quiet(params.welcome.as_ref()))
        .map(|t| render::html(&t));
    let say = |text| Say {
        dialog: dialog.id,
        text,
    };
    // The first group intent of a dialog without a topic creates it (and posts the card
    // when there is one): it declares those sends so the group's budget is planned for
    // them (see `NewIntent::with_sends`).
    let card_first = created && !waiting && params.auto_info && !params.hide_info.card;
    let group = ctx.group_of(&dialog);
    if created {
        if card_first {
            let card = Card { dialog: dialog.id };
            let intent = card
                .to(group, Lane::Group)
                .with_fairness_key(dialog.id)
                .with_sends(2);
            ctx.enqueue(tx, intent, 0).await?;
        }
        if !params.leave_closed {
            if let Some(text) = welcome {
                ctx.to_user(tx, user_id, Some(dialog.id), &say(text))
                    .await?;
            }
        }
    } else if dialog.status == DialogStatus::Closed && !params.leave_closed {
        ctx.set_status(tx, &dialog, DialogStatus::New, now).await?;
        // A returning user hears REOPEN_MESSAGE, not the first-contact WELCOME.
        let back = params
            .reopen_message_for(&contact.first_name)
            .filter(|_| !quiet(params.reopen_message.as_ref()))
            .map(|t| render::html(&t));
        if let Some(text) = back {
            ctx.to_user(tx, user_id, Some(dialog.id), &say(text))
                .await?;
        }
    } else if dialog.status == DialogStatus::Wait {
        ctx.set_status(tx, &dialog, DialogStatus::New, now).await?;
    }
    if waiting {
        tx.touch_dialog(dialog.id, now).await?;
        if content::kind(msg) != "service" {
            ctx.record(
                tx,
                Event::MessageReceived {
                    dialog: dialog.id,
                    message: msg,
                },
            )
            .await?;
            gate::keep(tx, dialog.id, msg).await?;
        }
        return Ok(None);
    }
    if activating && params.recap > 0 {
        // The topic starts with what led to it (before the trigger message itself).
        ctx.post_recap(tx, dialog.id, user_id).await?;
    }
    tx.touch_dialog(dialog.id, now).await?;
    let topicless = dialog.thread_id.is_none().then_some(dialog.id);

    let kind = content::kind(msg);
    if kind == "service" {
        return Ok(topicless);
    }
    ctx.record(
        tx,
        Event::MessageReceived {
            dialog: dialog.id,
            message: msg,
        },
    )
    .await?;
    let Some(id) = msg["message_id"].as_i64() else {
        return Ok(topicless);
    };
    let reply_to = match content::explicit_reply(msg) {
        Some(r) => tx
            .link_by_user_message(ctx.connection, user_id, r)
            .await?
            .map(|l| l.link.group_message_id),
        None => None,
    };
    if let Some(album) = msg["media_group_id"].as_str() {
        if let Some(item) = resend::item(msg) {
            tx.record_media_item(ctx.connection, user_id, id, album, &item, now)
                .await?;
        }
        album_part(ctx, tx, dialog.id, album, user_id, id, false).await?;
        return Ok(topicless);
    }
    let forward = !content::copyable(&kind);
    if privacy::private_copy(ctx, tx, &params, msg, dialog.id, reply_to).await? {
        return Ok(topicless);
    }
    if !forward && reply_to.is_none() && join_burst(ctx, tx, group, dialog.id, id).await? {
        return Ok(topicless);
    }
    let copy = CopyIn {
        dialog: dialog.id,
        ids: vec![id],
        reply_to,
        kind,
        forward,
    };
    let mut intent = copy.to(group, Lane::Group).with_fairness_key(dialog.id);
    if dialog.thread_id.is_none() && !card_first {
        // Topic, card (when shown) and the copy.
        let card = params.auto_info && !params.hide_info.card;
        intent = intent.with_sends(2 + u32::from(card));
    }
    ctx.enqueue(tx, intent, 0).await?;
    Ok(topicless)
}

/// Adds a message to the dialog's last copy intent when it is still waiting and is a
/// plain copy (no reply, no album): a burst of one user's messages then goes out in
/// one copyMessages call. Order is kept because only the queue's newest intent grows.
async fn join_burst(
    ctx: &Context,
    tx: &mut Tx,
    group: i64,
    dialog: i64,
    id: i64,
) -> Result<bool, StoreError> {
    let Some((intent_id, action)) = tx
        .outbox_pending_tail(ctx.connection, group, dialog)
        .await?
    else {
        return Ok(false);
    };
    let Some(CopyIn {
        dialog: d,
        mut ids,
        reply_to: None,
        kind,
        forward: false,
    }) = CopyIn::decode(&action)
    else {
        return Ok(false);
    };
    if d != dialog
        || ids.is_empty()
        || ids.len() >= MAX_BURST
        || ids.last().is_some_and(|last| *last >= id)
    {
        return Ok(false);
    }
    ids.push(id);
    let mut grown = CopyIn {
        dialog,
        ids,
        reply_to: None,
        kind,
        forward: false,
    }
    .encode();
    // Keep what the intent declared it sends (it may create the topic).
    if let Some(sends) = action.get(crate::store::SENDS_FIELD) {
        grown[crate::store::SENDS_FIELD] = sends.clone();
    }
    tx.outbox_extend_pending(intent_id, &grown).await
}

/// Buffers one part of an album: the first part schedules the copy a moment later,
/// later parts join its batch. Works both ways (`outgoing` = operator's album).
pub(super) async fn album_part(
    ctx: &Context,
    tx: &mut Tx,
    dialog: i64,
    album: &str,
    chat: i64,
    id: i64,
    outgoing: bool,
) -> Result<(), StoreError> {
    if let Some(batch) = tx.open_album_batch(ctx.connection, album).await? {
        tx.add_album_part(ctx.connection, album, batch, chat, id)
            .await?;
        return Ok(());
    }
    let group = ctx.group_of_id(tx, dialog).await?;
    let intent = if outgoing {
        let user = ctx.user_of(tx, dialog).await?;
        let copy = CopyOut {
            dialog,
            ids: Vec::new(),
            reply_to: None,
            kind: "album".into(),
        };
        copy.to(user, Lane::Reply)
    } else if ctx.with_params(|p| p.mask_patterns.any()) {
        // Captions are masked when the batch runs (see `execute`).
        let send = SendIn {
            dialog,
            ids: Vec::new(),
            items: Vec::new(),
            reply_to: None,
            kind: "album".into(),
        };
        send.to(group, Lane::Group)
    } else {
        let copy = CopyIn {
            dialog,
            ids: Vec::new(),
            reply_to: None,
            kind: "album".into(),
            forward: false,
        };
        copy.to(group, Lane::Group)
    };
    let batch = ctx
        .enqueue(tx, intent.with_fairness_key(dialog), ALBUM_WAIT_MS)
        .await?
        .0;
    tx.add_album_part(ctx.connection, album, batch, chat, id)
        .await?;
    Ok(())
}
