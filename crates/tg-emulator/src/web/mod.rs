//! The sandbox page: a user's private chat with the bot next to the team's forum group,
//! live, served at `/` and `/sandbox` as plain HTML, CSS and JS embedded in the binary.
//!
//! Besides the page's files it adds the reading routes the page needs:
//! - `GET /control/world`: bots, people, groups (with members) and private chats;
//! - `GET /control/file/{file_id}`: a stored file's bytes (for previews and downloads);
//! - `GET /control/commands`: the command menu a person sees in a chat (the page's `/`
//!   menu), resolved from what the bots registered with setMyCommands.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::world::{ChatKey, World};
use crate::Shared;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLES_CSS: &str = include_str!("styles.css");

/// The page's routes (merged into the server's router).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(index))
        .route("/sandbox", get(index))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/styles.css",
            get(|| async { asset("text/css; charset=utf-8", STYLES_CSS) }),
        )
        .route(
            "/control/world",
            get(|State(s): State<Arc<Shared>>| async move { Json(world_json(&s.world())) }),
        )
        .route("/control/file/{file_id}", get(file))
        .route(
            "/control/commands",
            get(
                |State(s): State<Arc<Shared>>, Query(q): Query<MenuQuery>| async move {
                    let world = s.world();
                    let list = match (q.chat_id, q.bot) {
                        (Some(group), _) => group_menu(&world, group, q.user),
                        (None, Some(bot)) => private_menu(&world, bot, q.user),
                        (None, None) => Vec::new(),
                    };
                    Json(json!({"ok": true, "result": list}))
                },
            ),
        )
}

/// Query of `/control/commands`: `user` in a group (`chat_id`) or in the private chat
/// with `bot`.
#[derive(Debug, Deserialize)]
struct MenuQuery {
    user: i64,
    chat_id: Option<i64>,
    bot: Option<i64>,
}

/// A command-scope key as setMyCommands stores it: `type:chat_id:user_id`, the ids as
/// JSON (`null` when the scope has none).
fn scope_key(ty: &str, chat: Option<i64>, user: Option<i64>) -> String {
    format!("{ty}:{}:{}", json!(chat), json!(user))
}

/// The first non-empty list among `scopes`, each tried in the person's language and then
/// without one: Telegram's order for choosing which commands a person sees.
fn first_commands(world: &World, bot: i64, user: i64, scopes: &[String]) -> Vec<Value> {
    let Some(b) = world.bots.get(&bot) else {
        return Vec::new();
    };
    let lang = world
        .people
        .get(&user)
        .and_then(|p| p.json["language_code"].as_str())
        .unwrap_or("");
    for scope in scopes {
        for l in [lang, ""] {
            let list = b.commands.get(&(scope.clone(), l.to_string()));
            if let Some(Value::Array(list)) =
                list.filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            {
                let username = &b.username;
                return list
                    .iter()
                    .map(|c| json!({"command": c["command"], "description": c["description"], "bot": username}))
                    .collect();
            }
        }
    }
    Vec::new()
}

/// The commands `user` sees in a group: for each bot of the group, the most specific
/// scope that has commands (chat member, chat administrators when `user` is one, chat,
/// all chat administrators, all group chats, default).
pub fn group_menu(world: &World, group: i64, user: i64) -> Vec<Value> {
    let Some(chat) = world.chats.get(&ChatKey::Group(group)) else {
        return Vec::new();
    };
    let admin = chat
        .members
        .get(&user)
        .is_some_and(|m| matches!(m.status.as_str(), "creator" | "administrator"));
    let mut scopes = vec![scope_key("chat_member", Some(group), Some(user))];
    if admin {
        scopes.push(scope_key("chat_administrators", Some(group), None));
    }
    scopes.push(scope_key("chat", Some(group), None));
    if admin {
        scopes.push(scope_key("all_chat_administrators", None, None));
    }
    scopes.push(scope_key("all_group_chats", None, None));
    scopes.push(scope_key("default", None, None));
    let mut bots: Vec<i64> = chat
        .members
        .iter()
        .filter(|(id, m)| world.bots.contains_key(id) && m.is_in())
        .map(|(id, _)| *id)
        .collect();
    bots.sort_unstable();
    bots.into_iter()
        .flat_map(|bot| first_commands(world, bot, user, &scopes))
        .collect()
}

/// The commands `user` sees in the private chat with `bot` (chat, all private chats,
/// default).
pub fn private_menu(world: &World, bot: i64, user: i64) -> Vec<Value> {
    let scopes = [
        scope_key("chat", Some(user), None),
        scope_key("all_private_chats", None, None),
        scope_key("default", None, None),
    ];
    first_commands(world, bot, user, &scopes)
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Everything the page needs to offer choices: who can act where.
pub fn world_json(world: &World) -> Value {
    let mut bots: Vec<Value> = world
        .bots
        .values()
        .map(|b| json!({"id": b.id, "username": b.username, "first_name": b.first_name}))
        .collect();
    bots.sort_by_key(|b| b["id"].as_i64());
    let mut people: Vec<Value> = world.people.values().map(|p| p.json.clone()).collect();
    people.sort_by_key(|p| p["id"].as_i64());
    let mut groups = Vec::new();
    let mut privates = Vec::new();
    for chat in world.chats.values() {
        match chat.key {
            ChatKey::Group(id) => {
                let mut members: Vec<Value> = chat
                    .members
                    .iter()
                    .map(|(uid, m)| {
                        json!({"user": world.user_json(*uid).unwrap_or(json!({"id": uid})), "status": m.status})
                    })
                    .collect();
                members.sort_by_key(|m| m["user"]["id"].as_i64());
                groups.push(json!({
                    "id": id,
                    "title": chat.json["title"],
                    "is_forum": chat.is_forum,
                    "members": members,
                }));
            }
            ChatKey::Private { bot, user } => {
                privates.push(json!({"bot": bot, "user": user, "blocked": chat.blocked}));
            }
        }
    }
    // Oldest group first (ids grow more negative).
    groups.sort_by_key(|g| std::cmp::Reverse(g["id"].as_i64()));
    privates.sort_by_key(|p| (p["bot"].as_i64(), p["user"].as_i64()));
    json!({"ok": true, "result": {"bots": bots, "people": people, "groups": groups, "privates": privates}})
}

/// Guesses a content type from the first bytes, so images preview in the page.
fn sniff(data: &[u8]) -> &'static str {
    match data {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'%', b'P', b'D', b'F', ..] => "application/pdf",
        d if std::str::from_utf8(d).is_ok() => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn file(State(s): State<Arc<Shared>>, Path(file_id): Path<String>) -> Response {
    let world = s.world();
    match world.files.get(&file_id) {
        Some(f) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, sniff(&f.data)),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            f.data.clone(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error_code": 404, "description": "Not Found: file"})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{group_menu, private_menu, sniff};
    use crate::params::Params;
    use crate::world::{Member, World};
    use serde_json::{json, Value};

    fn set(world: &mut World, bot: i64, scope: Value, lang: &str, names: &[&str]) {
        let commands: Vec<Value> = names
            .iter()
            .map(|n| json!({"command": n, "description": format!("Do {n}")}))
            .collect();
        let mut p = json!({"commands": commands, "scope": scope});
        if !lang.is_empty() {
            p["language_code"] = json!(lang);
        }
        crate::methods::call(world, bot, "setMyCommands", &Params::from_json(p)).unwrap();
    }

    fn names(list: &[Value]) -> Vec<&str> {
        list.iter().filter_map(|c| c["command"].as_str()).collect()
    }

    #[test]
    fn menu_follows_telegrams_scope_order() {
        let mut w = World::new();
        let bot = w.add_bot("777:secret", "help_bot", "Help").unwrap();
        let owner = w.add_person("Olga", None, None, Some("en"))["id"]
            .as_i64()
            .unwrap();
        let member = w.add_person("Max", None, None, Some("de"))["id"]
            .as_i64()
            .unwrap();
        let special = w.add_person("Ann", None, None, None)["id"]
            .as_i64()
            .unwrap();
        let group = w.add_group("Team", true, Some(owner));
        w.change_member(group, member, Member::with("member", json!({})), None)
            .unwrap();
        w.change_member(group, special, Member::with("member", json!({})), None)
            .unwrap();
        w.change_member(group, bot, Member::with("administrator", json!({})), None)
            .unwrap();
        assert!(
            group_menu(&w, group, member).is_empty(),
            "nothing registered yet"
        );

        set(&mut w, bot, json!({"type": "default"}), "", &["start"]);
        set(
            &mut w,
            bot,
            json!({"type": "chat", "chat_id": group}),
            "",
            &["close"],
        );
        set(
            &mut w,
            bot,
            json!({"type": "chat", "chat_id": group}),
            "de",
            &["schliessen"],
        );
        set(
            &mut w,
            bot,
            json!({"type": "chat_administrators", "chat_id": group}),
            "",
            &["close", "stats"],
        );
        set(
            &mut w,
            bot,
            json!({"type": "chat_member", "chat_id": group, "user_id": special}),
            "",
            &["set"],
        );

        assert_eq!(names(&group_menu(&w, group, owner)), ["close", "stats"]);
        assert_eq!(names(&group_menu(&w, group, member)), ["schliessen"]);
        assert_eq!(names(&group_menu(&w, group, special)), ["set"]);
        assert_eq!(group_menu(&w, group, owner)[0]["bot"], "help_bot");
        assert_eq!(names(&private_menu(&w, bot, member)), ["start"]);
    }

    #[test]
    fn sniffs_images_and_text() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
        assert_eq!(sniff(b"\x89PNG\r\n"), "image/png");
        assert_eq!(sniff(b"sample photo #1"), "text/plain; charset=utf-8");
        assert_eq!(sniff(&[0, 159, 146, 150]), "application/octet-stream");
    }
}
