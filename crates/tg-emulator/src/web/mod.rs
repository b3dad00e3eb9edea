//! The sandbox page: a user's private chat with the bot next to the team's forum group,
//! live, served at `/` and `/sandbox` as plain HTML, CSS and JS embedded in the binary.
//!
//! Besides the page's files it adds two reading routes the page needs:
//! - `GET /control/world`: bots, people, groups (with members) and private chats;
//! - `GET /control/file/{file_id}`: a stored file's bytes (for previews and downloads).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
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
    use super::sniff;

    #[test]
    fn sniffs_images_and_text() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
        assert_eq!(sniff(b"\x89PNG\r\n"), "image/png");
        assert_eq!(sniff(b"sample photo #1"), "text/plain; charset=utf-8");
        assert_eq!(sniff(&[0, 159, 146, 150]), "application/octet-stream");
    }
}
