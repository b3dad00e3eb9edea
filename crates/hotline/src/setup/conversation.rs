//! One owner's conversation with the setup bot as a state machine: [`decide`] takes where
//! the conversation stands and what the owner sent, and returns the next state and the
//! [`Action`]s the driver carries out (Telegram calls, store writes). Results the driver
//! learns (a token Telegram accepted or refused) come back through [`after_token`].
//!
//! Why pure: the dangerous paths (a token pasted at the wrong moment, a stranger writing)
//! are decided here and unit-tested without a network; and the state is a small
//! serializable value kept in the store, so a restart resumes the conversation.

use serde::{Deserialize, Serialize};

use crate::config::{looks_like_token, Secret, PARAM_NAMES};

/// Where an owner's conversation stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum State {
    /// Nothing under way.
    #[default]
    Idle,
    /// `/connect` asked for a bot token.
    AwaitingToken,
    /// The token was accepted and stored; waiting for the bot to be made an administrator
    /// of a forum group.
    AwaitingGroup {
        /// The new connection's name.
        connection: String,
    },
    /// A parameter's button was pressed; the next text is its new value.
    EditingParam {
        /// The connection.
        connection: String,
        /// The parameter (one of [`PARAM_NAMES`]).
        param: String,
    },
}

impl State {
    /// The stored form (`None` for [`State::Idle`]: nothing to keep).
    pub fn to_stored(&self) -> Option<String> {
        (*self != State::Idle).then(|| serde_json::to_string(self).expect("a state serializes"))
    }

    /// Reads a stored state; an unreadable one (a newer or older version) starts over.
    pub fn from_stored(text: Option<&str>) -> State {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }
}

/// What the owner sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A message's text (commands included), with its id (to delete a token).
    Text {
        /// The text.
        text: String,
        /// The message id in the private chat.
        message_id: i64,
    },
    /// An inline button's callback data.
    Button(String),
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer in the private chat, with inline buttons (label, callback data) one per row.
    Say {
        /// The text.
        text: String,
        /// Buttons, one per row.
        buttons: Vec<(String, String)>,
    },
    /// Delete a message of the owner's right away (it holds a token).
    Delete(i64),
    /// Check the token with getMe; on success store the connection (sealed), ask for the
    /// group and go to [`State::AwaitingGroup`]; report back through [`after_token`].
    CheckToken(Secret),
    /// List every connection: the stored ones with buttons, the file's read-only.
    List,
    /// Show one connection: parameters and buttons.
    Show(String),
    /// Set a parameter with `/set`'s validation; on a refusal the driver says why and the
    /// state stays [`State::EditingParam`].
    SetParam {
        /// The connection.
        connection: String,
        /// The parameter.
        param: String,
        /// The value as typed.
        value: String,
    },
    /// Pause a stored connection (its tasks stop; it is not started again until resumed).
    Pause(String),
    /// Resume a paused connection.
    Resume(String),
    /// Ask to confirm a removal.
    ConfirmRemove(String),
    /// Remove a stored connection (stops it, forgets its token).
    Remove(String),
    /// Revoke the connection's API keys and create a new one, shown once.
    RotateKey(String),
    /// Queue depth, last error, owner instance.
    Status(String),
    /// Look again whether the bot of the connection waiting for its group was added to one.
    CheckGroup(String),
}

/// The result of a step: the next state and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The state to store.
    pub next: State,
    /// What the driver does, in order.
    pub actions: Vec<Action>,
}

/// The answer to anyone who is not an owner: it says nothing about what the bot is, whom it
/// serves or which commands exist.
pub const NOT_FOR_YOU: &str = "Sorry, this bot is private.";

/// The help text, also the answer to `/start`.
pub const HELP: &str = "Hotline setup.\n\
/connect — connect a bot: a helpdesk in a forum group\n\
/list — your connections (parameters, pause, API key, status)\n\
/cancel — stop what is under way";

fn say(text: impl Into<String>) -> Action {
    Action::Say {
        text: text.into(),
        buttons: Vec::new(),
    }
}

/// The request for a token that `/connect` sends.
pub const ASK_TOKEN: &str = "Send me the token of the bot to connect (from @BotFather: \
/newbot, or /token for an existing bot). I delete your message right away and never show \
the token again. /cancel to stop.";

/// Decides what to do with an input. `owner`: whether the sender is in `[setup_bot] owners`.
pub fn decide(state: &State, owner: bool, input: &Input) -> Decision {
    let stay = |actions| Decision {
        next: state.clone(),
        actions,
    };
    let go = |next, actions| Decision { next, actions };
    if !owner {
        // A stranger's token is deleted too: it must not linger in a chat with this bot.
        let mut actions = Vec::new();
        if let Input::Text { text, message_id } = input {
            if looks_like_token(text.trim()) {
                actions.push(Action::Delete(*message_id));
            }
        }
        actions.push(say(NOT_FOR_YOU));
        return Decision {
            next: State::Idle,
            actions,
        };
    }
    match input {
        Input::Button(data) => {
            let (verb, rest) = data.split_once(':').unwrap_or((data.as_str(), ""));
            let conn = rest.to_string();
            match verb {
                "show" => go(State::Idle, vec![Action::Show(conn)]),
                "param" => match rest.split_once(':') {
                    Some((c, p)) if PARAM_NAMES.contains(&p) => go(
                        State::EditingParam {
                            connection: c.into(),
                            param: p.into(),
                        },
                        vec![say(format!(
                            "Send the new value of {p} for {c} (as with /set; `default` \
                             restores the default). /cancel to keep it."
                        ))],
                    ),
                    _ => stay(vec![say("That button is out of date: /list")]),
                },
                "pause" => go(State::Idle, vec![Action::Pause(conn)]),
                "resume" => go(State::Idle, vec![Action::Resume(conn)]),
                "remove" => go(State::Idle, vec![Action::ConfirmRemove(conn)]),
                "remove!" => go(State::Idle, vec![Action::Remove(conn)]),
                "key" => go(State::Idle, vec![Action::RotateKey(conn)]),
                "status" => go(State::Idle, vec![Action::Status(conn)]),
                "group" => stay(vec![Action::CheckGroup(conn)]),
                _ => stay(vec![say("That button is out of date: /list")]),
            }
        }
        Input::Text { text, message_id } => {
            let text = text.trim();
            // A token is deleted wherever it turns up, before anything else.
            let is_token = looks_like_token(text);
            let mut first = Vec::new();
            if is_token {
                first.push(Action::Delete(*message_id));
            }
            let command = text
                .strip_prefix('/')
                .map(|c| c.split_whitespace().next().unwrap_or_default())
                .map(|c| c.split('@').next().unwrap_or_default());
            let with = |mut first: Vec<Action>, more: Vec<Action>| {
                first.extend(more);
                first
            };
            match command {
                Some("start") | Some("help") => stay(vec![say(HELP)]),
                Some("cancel") => go(State::Idle, vec![say("Stopped. /connect, /list")]),
                Some("connect") => go(State::AwaitingToken, vec![say(ASK_TOKEN)]),
                Some("list") => go(State::Idle, vec![Action::List]),
                Some(_) => stay(vec![say(format!("I don't know that command.\n\n{HELP}"))]),
                None => match state {
                    State::AwaitingToken if is_token => go(
                        State::AwaitingToken,
                        with(first, vec![Action::CheckToken(Secret::new(text))]),
                    ),
                    State::AwaitingToken => stay(vec![say(
                        "That is not a bot token: it looks like 123456789:AAH… \
                         (from @BotFather). Send it again, or /cancel.",
                    )]),
                    State::EditingParam { connection, param } if !is_token => {
                        stay(vec![Action::SetParam {
                            connection: connection.clone(),
                            param: param.clone(),
                            value: text.to_string(),
                        }])
                    }
                    State::AwaitingGroup { connection } => {
                        stay(with(first, vec![Action::CheckGroup(connection.clone())]))
                    }
                    _ if is_token => stay(with(
                        first,
                        vec![say(
                            "I deleted that message: it held a bot token. To connect that \
                             bot, send /connect first.",
                        )],
                    )),
                    _ => stay(vec![say(HELP)]),
                },
            }
        }
    }
}

/// What the token check found, reported by the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// Telegram accepted it and the connection was stored under this name for this bot.
    Stored {
        /// The new connection's name.
        connection: String,
        /// The bot's username (without @).
        username: String,
    },
    /// Telegram refused it (401): a wrong or revoked token.
    Refused,
    /// That bot is already connected (here or in the configuration file).
    AlreadyConnected(String),
    /// Telegram could not be asked (network); try again.
    Unreachable(String),
}

/// The step after [`Action::CheckToken`].
pub fn after_token(check: &TokenCheck) -> Decision {
    match check {
        TokenCheck::Stored {
            connection,
            username,
        } => Decision {
            next: State::AwaitingGroup {
                connection: connection.clone(),
            },
            actions: vec![Action::Say {
                text: format!(
                    "@{username} is connected as \"{connection}\". Now add @{username} to a \
                     forum group (a supergroup with Topics on) as an administrator with the \
                     right to manage topics. I notice it when that happens."
                ),
                buttons: vec![("I have added it".into(), format!("group:{connection}"))],
            }],
        },
        TokenCheck::Refused => Decision {
            next: State::AwaitingToken,
            actions: vec![say(
                "Telegram refused that token: it is wrong or was revoked. Copy it again \
                 from @BotFather and send it, or /cancel.",
            )],
        },
        TokenCheck::AlreadyConnected(name) => Decision {
            next: State::Idle,
            actions: vec![say(format!(
                "That bot is already connected (\"{name}\"). /list"
            ))],
        },
        TokenCheck::Unreachable(why) => Decision {
            next: State::AwaitingToken,
            actions: vec![say(format!(
                "I could not reach Telegram to check the token ({why}). Send it again in a \
                 moment, or /cancel."
            ))],
        },
    }
}

/// The inline buttons of a stored connection: one per parameter, then pause or resume,
/// rotate the API key, status, remove.
pub fn connection_buttons(connection: &str, paused: bool) -> Vec<(String, String)> {
    let mut b: Vec<(String, String)> = PARAM_NAMES
        .iter()
        .map(|p| (format!("✏️ {p}"), format!("param:{connection}:{p}")))
        .collect();
    if paused {
        b.push(("▶️ Resume".into(), format!("resume:{connection}")));
    } else {
        b.push(("⏸ Pause".into(), format!("pause:{connection}")));
    }
    b.push(("🔑 New API key".into(), format!("key:{connection}")));
    b.push(("📊 Status".into(), format!("status:{connection}")));
    b.push(("🗑 Remove".into(), format!("remove:{connection}")));
    b
}

/// A name for a new connection from its bot's username: lower-cased, only the characters
/// a connection name may have, at most 32, and not one of `taken`.
pub fn connection_name(username: &str, taken: &[String]) -> String {
    let mut base: String = username
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base = base.trim_start_matches(['-', '_']).to_string();
    if base.is_empty() {
        base = "bot".into();
    }
    base.truncate(28);
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456:AAH-secret_value";

    fn text(t: &str) -> Input {
        Input::Text {
            text: t.into(),
            message_id: 9,
        }
    }

    #[test]
    fn connect_asks_for_a_token_and_deletes_it_at_once() {
        let d = decide(&State::Idle, true, &text("/connect"));
        assert_eq!(d.next, State::AwaitingToken);
        let d = decide(&d.next, true, &text(TOKEN));
        assert_eq!(
            d.actions,
            [Action::Delete(9), Action::CheckToken(Secret::new(TOKEN))]
        );
        let d = after_token(&TokenCheck::Stored {
            connection: "shop_bot".into(),
            username: "shop_bot".into(),
        });
        assert_eq!(
            d.next,
            State::AwaitingGroup {
                connection: "shop_bot".into()
            }
        );
    }

    #[test]
    fn a_wrong_token_is_explained_and_asked_again() {
        let d = decide(&State::AwaitingToken, true, &text("hello"));
        assert_eq!(d.next, State::AwaitingToken);
        assert!(
            matches!(&d.actions[..], [Action::Say { text, .. }] if text.contains("not a bot token"))
        );
        let d = after_token(&TokenCheck::Refused);
        assert_eq!(d.next, State::AwaitingToken);
        assert!(matches!(&d.actions[..], [Action::Say { text, .. }] if text.contains("refused")));
    }

    #[test]
    fn a_stranger_learns_nothing_and_their_token_is_deleted() {
        for state in [State::Idle, State::AwaitingToken] {
            for input in [
                text("/connect"),
                text("/list"),
                text(TOKEN),
                Input::Button("remove!:shop".into()),
            ] {
                let d = decide(&state, false, &input);
                assert_eq!(d.next, State::Idle);
                let says: Vec<_> = d
                    .actions
                    .iter()
                    .filter(|a| !matches!(a, Action::Delete(_)))
                    .collect();
                assert_eq!(says, [&say(NOT_FOR_YOU)], "{input:?}");
            }
        }
        assert_eq!(
            decide(&State::Idle, false, &text(TOKEN)).actions[0],
            Action::Delete(9)
        );
    }

    #[test]
    fn a_token_out_of_turn_is_deleted_not_used() {
        let d = decide(&State::Idle, true, &text(TOKEN));
        assert_eq!(d.actions[0], Action::Delete(9));
        assert!(!d.actions.iter().any(|a| matches!(a, Action::CheckToken(_))));
        let editing = State::EditingParam {
            connection: "s".into(),
            param: "WELCOME".into(),
        };
        let d = decide(&editing, true, &text(TOKEN));
        assert_eq!(d.actions[0], Action::Delete(9));
        assert!(!d
            .actions
            .iter()
            .any(|a| matches!(a, Action::SetParam { .. })));
    }

    #[test]
    fn buttons_edit_parameters_and_manage_the_connection() {
        let d = decide(
            &State::Idle,
            true,
            &Input::Button("param:shop:WELCOME".into()),
        );
        let editing = State::EditingParam {
            connection: "shop".into(),
            param: "WELCOME".into(),
        };
        assert_eq!(d.next, editing);
        let d = decide(&d.next, true, &text("Hi {name}"));
        assert_eq!(
            d.actions,
            [Action::SetParam {
                connection: "shop".into(),
                param: "WELCOME".into(),
                value: "Hi {name}".into()
            }]
        );
        assert_eq!(d.next, editing, "stays until the driver accepts the value");
        let d = decide(&State::Idle, true, &Input::Button("param:shop:NOPE".into()));
        assert_eq!(d.next, State::Idle);
        for (data, action) in [
            ("pause:shop", Action::Pause("shop".into())),
            ("resume:shop", Action::Resume("shop".into())),
            ("remove:shop", Action::ConfirmRemove("shop".into())),
            ("remove!:shop", Action::Remove("shop".into())),
            ("key:shop", Action::RotateKey("shop".into())),
            ("status:shop", Action::Status("shop".into())),
            ("show:shop", Action::Show("shop".into())),
        ] {
            assert_eq!(
                decide(&editing, true, &Input::Button(data.into())).actions,
                [action]
            );
        }
        let all = connection_buttons("shop", false);
        for (_, data) in &all {
            let d = decide(&State::Idle, true, &Input::Button(data.clone()));
            assert!(
                !matches!(&d.actions[..], [Action::Say { text, .. }] if text.contains("out of date")),
                "{data}"
            );
            assert!(
                data.len() <= 64,
                "callback data is at most 64 bytes: {data}"
            );
        }
    }

    #[test]
    fn cancel_and_commands_work_from_any_state() {
        let waiting = State::AwaitingGroup {
            connection: "s".into(),
        };
        assert_eq!(decide(&waiting, true, &text("/cancel")).next, State::Idle);
        assert_eq!(
            decide(&waiting, true, &text("/connect@setup_bot")).next,
            State::AwaitingToken
        );
        assert_eq!(
            decide(&waiting, true, &text("/list")).actions,
            [Action::List]
        );
        assert_eq!(
            decide(&waiting, true, &text("done")).actions,
            [Action::CheckGroup("s".into())]
        );
    }

    #[test]
    fn states_survive_a_restart() {
        for s in [
            State::Idle,
            State::AwaitingToken,
            State::AwaitingGroup {
                connection: "a".into(),
            },
            State::EditingParam {
                connection: "a".into(),
                param: "AUTOCLOSE".into(),
            },
        ] {
            assert_eq!(State::from_stored(s.to_stored().as_deref()), s);
        }
        assert_eq!(State::Idle.to_stored(), None);
        assert_eq!(
            State::from_stored(Some("{\"step\":\"martian\"}")),
            State::Idle
        );
    }

    #[test]
    fn names_come_from_the_username() {
        assert_eq!(connection_name("Shop_Support_Bot", &[]), "shop_support_bot");
        assert_eq!(
            connection_name("shop_bot", &["shop_bot".into()]),
            "shop_bot-2"
        );
        assert_eq!(connection_name("", &[]), "bot");
        assert!(connection_name(&"x".repeat(40), &[]).len() <= 32);
    }
}
