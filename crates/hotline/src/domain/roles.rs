//! Roles: who may run admin commands (`/send`, `/mark` admin forms, `/export`, `/set`,
//! `/get`, `/stats`). `EXTENSIONS_ALLOWED` lists user ids; empty means the group's
//! administrators, read from a cache in the store so that decisions never call Telegram.
//! The cache is filled at start, refreshed in the background and on `chat_member` updates.

use std::time::Duration;

use serde_json::Value;

use super::Context;
use crate::shutdown::Shutdown;
use crate::store::{now_ms, ConnectionId, Store, StoreError, Tx};
use crate::telegram::{Client, TgError};

/// How often the administrators cache is refreshed from getChatAdministrators.
pub const REFRESH_EVERY: Duration = Duration::from_secs(600);

/// Who wrote a group message, as far as roles go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// A person with this user id.
    Person(i64),
    /// An administrator posting anonymously (as the group).
    AnonymousAdmin,
    /// A channel or anything else that is not a person.
    Other,
}

/// The author of a group message.
pub fn author(ctx: &Context, msg: &Value) -> Author {
    if let Some(chat) = msg["sender_chat"]["id"].as_i64() {
        return if ctx.is_group(chat) {
            Author::AnonymousAdmin
        } else {
            Author::Other
        };
    }
    match (msg["from"]["id"].as_i64(), msg["from"]["is_bot"].as_bool()) {
        (Some(id), Some(false)) | (Some(id), None) => Author::Person(id),
        _ => Author::Other,
    }
}

/// Whether `user` may run admin commands.
pub async fn is_admin(ctx: &Context, tx: &mut Tx, user: i64) -> Result<bool, StoreError> {
    let allowed = ctx.params().extensions_allowed;
    if !allowed.is_empty() {
        return Ok(allowed.contains(&user));
    }
    tx.is_group_admin(ctx.connection, user).await
}

/// Whether the author of `msg` may run admin commands (no answer either way; for `/help`).
pub async fn is_admin_message(ctx: &Context, tx: &mut Tx, msg: &Value) -> Result<bool, StoreError> {
    match author(ctx, msg) {
        Author::Person(id) => is_admin(ctx, tx, id).await,
        _ => Ok(false),
    }
}

/// The role check every admin command starts with: true when the author of `msg` may run
/// it; otherwise answers politely where the command was typed and returns false.
pub async fn require_admin(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: Option<i64>,
) -> Result<bool, StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let text = match author(ctx, msg) {
        Author::Person(id) if is_admin(ctx, tx, id).await? => return Ok(true),
        Author::Person(_) => {
            if ctx.params().extensions_allowed.is_empty() {
                "🔒 Sorry, this command is for the group's administrators."
            } else {
                "🔒 Sorry, this command is only for the people listed in EXTENSIONS_ALLOWED."
            }
        }
        Author::AnonymousAdmin => {
            "🔒 You are posting anonymously (as the group), so I cannot tell who you are. \
             Turn off “Remain anonymous” in your administrator rights and send the command again."
        }
        Author::Other => "🔒 Sorry, admin commands must be sent by a person.",
    };
    ctx.notice(tx, dialog, reply_to, text.to_string()).await?;
    Ok(false)
}

/// A person's name as Telegram gives it: first name, and last name when there is one.
pub fn person_name(first: &str, last: Option<&str>) -> String {
    match last.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => format!("{} {l}", first.trim()),
        None => first.trim().to_string(),
    }
}

/// Remembers the name of the team member who wrote `msg` in the group (for `/stats`,
/// owners in titles and cards, `/assign @username`).
pub async fn remember_author(ctx: &Context, tx: &mut Tx, msg: &Value) -> Result<(), StoreError> {
    let from = &msg["from"];
    let (Some(id), Some(first)) = (from["id"].as_i64(), from["first_name"].as_str()) else {
        return Ok(());
    };
    if from["is_bot"] == true {
        return Ok(());
    }
    let name = person_name(first, from["last_name"].as_str());
    tx.remember_operator(
        ctx.connection,
        id,
        &name,
        from["username"].as_str(),
        now_ms(),
    )
    .await?;
    Ok(())
}

/// A `chat_member` update: keeps the administrators cache current.
pub async fn on_chat_member(ctx: &Context, tx: &mut Tx, m: &Value) -> Result<(), StoreError> {
    if m["chat"]["id"].as_i64() != Some(ctx.group_id) {
        return Ok(());
    }
    let (Some(user), Some(status)) = (
        m["new_chat_member"]["user"]["id"].as_i64(),
        m["new_chat_member"]["status"].as_str(),
    ) else {
        return Ok(());
    };
    tx.set_group_member_status(ctx.connection, user, status, now_ms())
        .await?;
    Ok(())
}

/// Why the administrators could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Telegram did not answer getChatAdministrators.
    #[error("getChatAdministrators: {0}")]
    Telegram(#[from] TgError),
    /// The cache could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reloads the administrators cache from Telegram; returns how many there are.
pub async fn refresh_admins(
    tg: &Client,
    store: &Store,
    connection: ConnectionId,
    group: i64,
) -> Result<usize, RefreshError> {
    let members: Vec<_> = tg
        .get_chat_administrators(group)
        .await?
        .into_iter()
        .filter(|m| !m.user.is_bot)
        .collect();
    let now = now_ms();
    // Their names too, so `/stats` and owners are named before they first write.
    for m in &members {
        let u = &m.user;
        store
            .remember_operator(
                connection,
                u.id,
                &person_name(&u.first_name, u.last_name.as_deref()),
                u.username.as_deref(),
                now,
            )
            .await?;
    }
    let admins: Vec<(i64, String)> = members.into_iter().map(|m| (m.user.id, m.status)).collect();
    store.replace_group_admins(connection, &admins, now).await?;
    Ok(admins.len())
}

/// Refreshes the administrators cache every `every` until shutdown.
pub async fn refresh_loop(
    tg: Client,
    store: Store,
    ctx: Context,
    every: Duration,
    mut shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            _ = shutdown.recv() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = refresh_admins(&tg, &store, ctx.connection, ctx.group_id).await {
            tracing::warn!(connection = %ctx.name, error = %e, "administrators not refreshed");
        }
    }
}
