//! Telegram's error answers, with Telegram's own texts.

use serde_json::{json, Value};

/// An error answer exactly as the Bot API sends it:
/// `{"ok":false,"error_code":N,"description":"...","parameters":{...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status and `error_code`.
    pub code: u16,
    /// The full `description`, prefix included ("Bad Request: ...").
    pub description: String,
    /// `parameters.retry_after` of a 429.
    pub retry_after: Option<u64>,
}

/// Result of a Bot API method.
pub type ApiResult<T = Value> = Result<T, ApiError>;

impl ApiError {
    /// A 400 "Bad Request: {text}".
    pub fn bad_request(text: impl AsRef<str>) -> Self {
        Self::new(400, format!("Bad Request: {}", text.as_ref()))
    }

    /// A 403 "Forbidden: {text}".
    pub fn forbidden(text: impl AsRef<str>) -> Self {
        Self::new(403, format!("Forbidden: {}", text.as_ref()))
    }

    /// Any code and description.
    pub fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 401 for an unknown token.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    /// 404 for an unknown method.
    pub fn not_found() -> Self {
        Self::new(404, "Not Found")
    }

    /// 429 with `retry_after`.
    pub fn too_many_requests(retry_after: u64) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    /// 409 with a "Conflict: ..." text.
    pub fn conflict(text: &str) -> Self {
        Self::new(409, format!("Conflict: {text}"))
    }

    /// "chat not found", the most common 400.
    pub fn chat_not_found() -> Self {
        Self::bad_request("chat not found")
    }

    /// "bot was blocked by the user".
    pub fn blocked() -> Self {
        Self::forbidden("bot was blocked by the user")
    }

    /// "message thread not found".
    pub fn thread_not_found() -> Self {
        Self::bad_request("message thread not found")
    }

    /// The JSON body of the answer.
    pub fn to_json(&self) -> Value {
        let mut body =
            json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(secs) = self.retry_after {
            body["parameters"] = json!({ "retry_after": secs });
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.description)
    }
}

impl std::error::Error for ApiError {}
