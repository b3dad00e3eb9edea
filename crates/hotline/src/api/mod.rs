//! The REST API (`/api/v1`), its OpenAPI document, outgoing webhooks and custom commands.
//!
//! - [`auth`]: bearer API keys (per connection, stored hashed) and the request extractors
//!   that turn every bad input into one JSON error shape ([`error::ApiError`]);
//! - resources: [`contacts`], [`dialogs`], [`messages`], [`params`], [`keys`], [`webhooks`];
//!   acting goes through the same dialog operations as Telegram commands
//!   (`crate::domain::dialogs`: store change, events and outbox intents in one transaction);
//! - [`events`]: webhook events recorded in the deciding transaction; [`delivery`]: their
//!   durable queue, signed and retried, separate from Telegram traffic;
//! - [`send`]: the API's outbox action (a message sent as the team, a custom command's
//!   answer); [`commands`]: `/apikey` and routing unknown commands to a webhook.
//!
//! The document is generated from the handlers (utoipa) and served at
//! `/api/v1/openapi.json`; `docs/api.md` is the guide.

pub mod admin;
pub mod auth;
pub mod broadcasts;
pub mod cli;
pub mod commands;
pub mod contacts;
pub mod delivery;
pub mod dialogs;
pub mod error;
pub mod events;
pub mod export;
pub mod handover;
pub mod keys;
pub mod messages;
pub mod params;
pub mod quick_replies;
pub mod send;
pub mod tags;
pub mod targets;
pub mod webhooks;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::Context;
use crate::store::{ConnectionId, Store};
pub use error::ApiError;

/// Largest JSON body the API reads.
pub const MAX_JSON_BODY: usize = 64 * 1024;
/// Largest multipart upload (Telegram bots may upload up to 50 MB; 20 MB keeps memory sane).
pub const MAX_UPLOAD_BODY: usize = 20 * 1024 * 1024;
/// Default and largest page size of listings.
pub const DEFAULT_PAGE: u32 = 50;
/// See [`DEFAULT_PAGE`].
pub const MAX_PAGE: u32 = 200;

/// What every handler needs: the store and the running connections, which come and go
/// at run time (the setup bot): a key of a connection that is not running is refused.
#[derive(Clone)]
pub struct ApiState {
    /// The database.
    pub store: Store,
    ctxs: Arc<std::sync::RwLock<Vec<Context>>>,
}

impl ApiState {
    /// State with no connection yet.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            ctxs: Default::default(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Context>> {
        self.ctxs.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves a connection from now on (replacing its previous context).
    pub fn add(&self, ctx: Context) {
        let mut ctxs = self.write();
        ctxs.retain(|c| c.connection != ctx.connection);
        ctxs.push(ctx);
    }

    /// Stops serving a connection: its keys are refused from now on.
    pub fn remove(&self, connection: ConnectionId) {
        self.write().retain(|c| c.connection != connection);
    }

    /// The decision context of a connection, if it is running.
    pub fn ctx(&self, connection: ConnectionId) -> Option<Context> {
        self.ctxs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|r| r.connection == connection)
            .cloned()
    }
}

/// Cursor pagination: `limit` items after `cursor` (the `next_cursor` of the previous page).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `next_cursor`.
    #[param(pattern = "^[0-9]*$")]
    pub cursor: Option<String>,
}

impl Page {
    /// Validated (after, limit); fetch `limit + 1` rows to know whether a next page exists.
    pub fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        let after = match self.cursor.as_deref() {
            None | Some("") => 0,
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| ApiError::invalid("cursor is not one this API returned"))?,
        };
        Ok((after, i64::from(limit)))
    }
}

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T: ToSchema> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Cuts a `limit + 1` fetch into a page and its cursor.
pub fn page_of<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    id: impl Fn(&R) -> i64,
    view: impl Fn(R) -> T,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|r| id(r).to_string())
    } else {
        None
    };
    (rows.into_iter().map(view).collect(), next)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hotline API",
        version = "1",
        description = "REST API of a Hotline connection. Authenticate with `Authorization: Bearer <API key>`; every error is `{\"error\": {\"code\", \"message\"}}`. See docs/api.md."
    ),
    modifiers(&Security),
    security(("bearer" = [])),
    tags(
        (name = "contacts", description = "End users known to the connection"),
        (name = "dialogs", description = "Dialogs (topics) and their status"),
        (name = "messages", description = "A dialog's history; sending as the team"),
        (name = "tags", description = "Tags (`/mark`) and funnels"),
        (name = "quick replies", description = "Saved answers (`/say`)"),
        (name = "broadcasts", description = "Broadcasts (`/send`)"),
        (name = "export", description = "CSV export of contacts and team analytics"),
        (name = "parameters", description = "Connection parameters (SPEC §3)"),
        (name = "keys", description = "API keys of the connection"),
        (name = "webhooks", description = "Outgoing webhooks: configuration, secret, queue"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn api_routes() -> OpenApiRouter<ApiState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(messages::upload))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(contacts::list))
        .routes(routes!(contacts::get))
        .routes(routes!(contacts::ban, contacts::unban))
        .routes(routes!(handover::get, handover::pause, handover::resume))
        .routes(routes!(tags::tag, tags::untag))
        .routes(routes!(tags::list))
        .routes(routes!(quick_replies::list))
        .routes(routes!(quick_replies::send))
        .routes(routes!(dialogs::list))
        .routes(routes!(dialogs::get))
        .routes(routes!(dialogs::close))
        .routes(routes!(dialogs::reopen))
        .routes(routes!(dialogs::assign))
        .routes(routes!(messages::history, messages::send))
        .routes(routes!(params::list))
        .routes(routes!(params::get, params::set))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(broadcasts::list, broadcasts::create))
        .routes(routes!(broadcasts::get))
        .routes(routes!(broadcasts::act))
        .routes(routes!(broadcasts::report))
        .routes(routes!(export::export))
        .routes(routes!(export::stats))
        .routes(routes!(webhooks::get))
        .routes(routes!(webhooks::rotate_secret))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .merge(uploads)
}

/// The OpenAPI document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().into_openapi()
}

/// The API's routes, to merge into Hotline's HTTP router.
pub fn router(state: ApiState) -> Router {
    let (routes, doc) = api_routes().split_for_parts();
    let doc = Arc::new(doc);
    routes
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route("/api/v1", axum::routing::any(error::not_found))
        .route("/api/v1/", axum::routing::any(error::not_found))
        .route("/api/v1/{*rest}", axum::routing::any(error::not_found))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// One log line per API request (method, route, status, time) inside a span that [`auth`]
/// completes with the caller's connection and key id. The route is the matched template
/// (`/api/v1/dialogs/{id}`), not the path a client sent: nothing a client puts in a path,
/// query or header (the key) reaches the log.
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("?", |m| m.as_str())
        .to_string();
    let span = tracing::info_span!(
        "api",
        method = %req.method(),
        route,
        connection = tracing::field::Empty,
        key_id = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let response = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "api request"
        )
    });
    response
}
