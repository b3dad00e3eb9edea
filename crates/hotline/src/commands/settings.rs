//! `/set NAME VALUE` and `/get [NAME]` in General, for admins. A value set here is
//! validated by the same parser as the config file, takes effect at once (the live
//! parameters are shared by the connection's tasks) and is stored, so it survives
//! restarts and wins over the config file until `/set NAME default` removes it.

use serde_json::Value;

use super::{Command, Place, Spec, Who};
use crate::config::PARAM_NAMES;
use crate::domain::render::html;
use crate::domain::roles::{author, Author};
use crate::domain::slash::answer;
use crate::domain::slash::Parsed;
use crate::domain::topics::Title;
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::Tx;

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        name: "set",
        aliases: &[],
        place: Place::General,
        who: Who::Admin,
        menu: "Change a parameter: /set NAME VALUE",
        help: "/set NAME VALUE — change a parameter (/set NAME default restores the config file's)",
        parse: |p| Command::Set(p.clone()),
    },
    Spec {
        name: "get",
        aliases: &[],
        place: Place::General,
        who: Who::Admin,
        menu: "Show parameters: /get [NAME]",
        help: "/get [NAME] — show parameters",
        parse: |p| Command::Get(p.clone()),
    },
];

/// Words that remove a stored value so the config file's applies again.
const RESET: &[&str] = &["default", "reset", "unset"];

fn usage() -> String {
    format!(
        "Usage: /set NAME VALUE · /set NAME default (back to the config file) · /get [NAME]\n\
         Parameters: {}",
        PARAM_NAMES.join(", ")
    )
}

fn known(name: &str) -> Option<&'static str> {
    PARAM_NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .copied()
}

/// `/set` (the dispatcher checked the author is an admin).
pub async fn set(ctx: &Context, tx: &mut Tx, msg: &Value, cmd: &Parsed) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let (name, value) = match cmd.args.split_once(char::is_whitespace) {
        Some((n, v)) => (n, v.trim()),
        None => (cmd.args.as_str(), ""),
    };
    if name.is_empty() {
        return answer(ctx, tx, None, reply_to, usage()).await;
    }
    let Some(name) = known(name) else {
        let text = format!("Unknown parameter {}.\n{}", html(name), usage());
        return answer(ctx, tx, None, reply_to, text).await;
    };
    let hide_before = ctx.params().hide_info;
    if value.is_empty() {
        let text = format!(
            "Give a value: /set {name} VALUE, or /set {name} default for the config file's value."
        );
        return answer(ctx, tx, None, reply_to, text).await;
    }
    let text = if RESET.iter().any(|r| r.eq_ignore_ascii_case(value)) {
        let existed = tx.delete_param_override(ctx.connection, name).await?;
        let default = ctx.defaults.get(name).unwrap_or_default();
        {
            let mut live = ctx.params.write().unwrap_or_else(|e| e.into_inner());
            let mut next = live.clone();
            if next.set(name, &default).is_ok() {
                *live = next;
            }
        }
        if existed {
            format!(
                "↩️ {name} is back to the config file's value: <code>{}</code>",
                html(&default)
            )
        } else {
            format!(
                "{name} was not set here; it has the config file's value <code>{}</code>",
                html(&default)
            )
        }
    } else {
        let mut next = ctx.params();
        let mut checked = next.set(name, value).map_err(|e| e.to_string());
        if checked.is_ok() && name == "WEBHOOKS" {
            // The hosts were resolved before the store's writer was taken ([`prefetch`]):
            // no DNS lookup while every other write waits.
            checked =
                crate::api::targets::check_hooks_prefetched(&next.webhooks, &ctx.webhook_targets)
                    .map_err(|e| format!("WEBHOOKS: {e}"));
        }
        match checked {
            Err(e) => format!("❌ {}", html(&e)),
            Ok(()) => {
                let stored = next.get(name).unwrap_or_default();
                tx.set_param_override(ctx.connection, name, &stored).await?;
                *ctx.params.write().unwrap_or_else(|e| e.into_inner()) = next.clone();
                let mut text = format!(
                    "✅ {name} = <code>{}</code>\nStored: it applies now and wins over the config \
                     file until /set {name} default.",
                    html(&stored)
                );
                if name == "EXTENSIONS_ALLOWED" && !next.extensions_allowed.is_empty() {
                    if let Author::Person(me) = author(ctx, msg) {
                        if !next.extensions_allowed.contains(&me) {
                            text.push_str(
                                "\n⚠️ You are not in the list: you can no longer run admin commands.",
                            );
                        }
                    }
                }
                text
            }
        }
    };
    let mut text = text;
    if name == "HIDE_INFO" && ctx.params().hide_info != hide_before {
        // Every open topic at once, not at its next status change: one title intent each,
        // in the dialog's group queue, so the outbox keeps them within the group's budget.
        let open = tx.open_dialogs_with_topic(ctx.connection).await?;
        for dialog in &open {
            ctx.to_group(tx, Some(*dialog), &Title { dialog: *dialog })
                .await?;
        }
        if !open.is_empty() {
            text.push_str(&format!("\nRenaming {} open topic(s).", open.len()));
        }
    }
    answer(ctx, tx, None, reply_to, text).await
}

/// Resolves the hosts of a `/set WEBHOOKS …` typed in the group, before the update
/// processor takes the store's writer (see `api::targets::prefetch`); anything else is
/// ignored at once.
pub async fn prefetch(ctx: &Context, update: &Value) {
    let msg = &update["message"];
    if !msg["chat"]["id"].as_i64().is_some_and(|c| ctx.is_group(c)) {
        return;
    }
    let Some(text) = msg["text"].as_str() else {
        return;
    };
    let Some(crate::domain::slash::Slash::Command(cmd)) = crate::domain::slash::parse(text) else {
        return;
    };
    if cmd.name != "set" {
        return;
    }
    let Some((name, value)) = cmd.args.split_once(char::is_whitespace) else {
        return;
    };
    if !name.eq_ignore_ascii_case("WEBHOOKS") {
        return;
    }
    let mut next = ctx.params();
    if next.set("WEBHOOKS", value.trim()).is_ok() {
        crate::api::targets::prefetch(&next.webhooks).await;
    }
}

/// `/get` (every parameter, for admins) or `/get NAME`. Values set in Telegram are marked ✱.
pub async fn get(ctx: &Context, tx: &mut Tx, msg: &Value, cmd: &Parsed) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let overrides = tx.param_overrides(ctx.connection).await?;
    let params = ctx.params();
    let line = |name: &str| {
        let mark = if overrides.contains_key(name) {
            " ✱"
        } else {
            ""
        };
        format!(
            "{name}{mark} = <code>{}</code>",
            html(&params.get(name).unwrap_or_default())
        )
    };
    let arg = cmd.args.trim();
    let text = if arg.is_empty() {
        let mut t: Vec<String> = PARAM_NAMES.iter().map(|n| line(n)).collect();
        t.push(
            "\n✱ = set here with /set (wins over the config file; /set NAME default removes it)"
                .into(),
        );
        t.join("\n")
    } else {
        match known(arg) {
            Some(name) => line(name),
            None => format!("Unknown parameter {}.\n{}", html(arg), usage()),
        }
    };
    answer(ctx, tx, None, reply_to, text).await
}
