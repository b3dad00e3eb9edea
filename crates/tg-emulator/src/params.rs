//! Method parameters from any of the four places Telegram accepts them:
//! the query string, a JSON body, an urlencoded body or a multipart body.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// A file part of a multipart request.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The part's file name, if the client gave one.
    pub filename: Option<String>,
    /// The part's content type, if the client gave one.
    pub content_type: Option<String>,
    /// The bytes.
    pub data: Bytes,
}

/// How a caller designated a file (Telegram's `InputFile or String`).
#[derive(Debug, Clone)]
pub enum FileRef {
    /// Bytes uploaded in this request.
    Upload(Upload),
    /// An existing `file_id`.
    FileId(String),
    /// An HTTP URL Telegram would download.
    Url(String),
}

/// The parameters of one call, whatever their transport.
///
/// Form transports carry everything as strings, so typed accessors accept both a JSON
/// value and its textual form, the way the Bot API server does.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, Value>,
    uploads: HashMap<String, Upload>,
}

impl Params {
    /// Parameters from a JSON object (non-objects give no parameters).
    pub fn from_json(value: Value) -> Self {
        let mut params = Self::default();
        if let Value::Object(map) = value {
            params.values.extend(map);
        }
        params
    }

    /// Adds textual parameters (query string, urlencoded body, text parts).
    pub fn add_text(&mut self, name: String, value: String) {
        self.values.insert(name, Value::String(value));
    }

    /// Adds a multipart file part.
    pub fn add_upload(&mut self, name: String, upload: Upload) {
        self.uploads.insert(name, upload);
    }

    /// Drops the fields Telegram does not know from the object parameters of `method`
    /// (given as JSON or as text holding JSON), as the Bot API server does.
    pub fn drop_unknown_fields(&mut self, method: &str) {
        let Some(declared) = crate::spec::method_params(method) else {
            return;
        };
        for (name, types, _) in declared {
            if types.iter().all(|t| crate::spec::is_primitive(t)) {
                continue;
            }
            let Some(value) = self.values.get_mut(name) else {
                continue;
            };
            if let Value::String(text) = value {
                match serde_json::from_str::<Value>(text) {
                    Ok(parsed) if parsed.is_object() || parsed.is_array() => *value = parsed,
                    _ => continue,
                }
            }
            crate::spec::drop_unknown_fields(&types, value);
        }
    }

    /// Names of the parameters passed; upload parts only referenced through
    /// `attach://name` are not parameters and are left out.
    pub fn names(&self) -> Vec<String> {
        let attached = |name: &str| {
            let needle = format!("attach://{name}");
            self.values
                .values()
                .any(|v| v.to_string().contains(&needle))
        };
        self.values
            .keys()
            .cloned()
            .chain(self.uploads.keys().filter(|k| !attached(k)).cloned())
            .collect()
    }

    /// Whether a parameter was passed at all.
    pub fn has(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| !v.is_null()) || self.uploads.contains_key(name)
    }

    /// A string parameter (numbers and booleans are given as their text).
    pub fn str(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A required string parameter; a missing one is "Bad Request: {name} is empty".
    pub fn req_str(&self, name: &str) -> ApiResult<String> {
        self.str(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| empty(name))
    }

    /// An integer parameter.
    pub fn i64(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid(name)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid(name)),
            Some(_) => Err(invalid(name)),
        }
    }

    /// A required integer parameter.
    pub fn req_i64(&self, name: &str) -> ApiResult<i64> {
        self.i64(name)?.ok_or_else(|| empty(name))
    }

    /// A boolean parameter (`true`, `1`, `True`...); absent is `false`.
    pub fn bool(&self, name: &str) -> bool {
        match self.values.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0) != 0,
            Some(Value::String(s)) => {
                matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
            }
            _ => false,
        }
    }

    /// A JSON-serialised parameter: given as JSON, or as text holding JSON.
    /// `what` names it in the error the way Telegram does ("reply keyboard markup").
    pub fn json(&self, name: &str, what: &str) -> ApiResult<Option<Value>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("can't parse {what} JSON object"))),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// A file parameter: an uploaded part of that name, `attach://part`, a file id or a URL.
    pub fn file(&self, name: &str) -> ApiResult<Option<FileRef>> {
        if let Some(upload) = self.uploads.get(name) {
            return Ok(Some(FileRef::Upload(upload.clone())));
        }
        match self.str(name) {
            None => Ok(None),
            Some(s) => self.file_from_str(&s).map(Some),
        }
    }

    /// Resolves the textual form of an InputFile (used inside InputMedia too).
    pub fn file_from_str(&self, s: &str) -> ApiResult<FileRef> {
        if let Some(part) = s.strip_prefix("attach://") {
            return self
                .uploads
                .get(part)
                .cloned()
                .map(FileRef::Upload)
                .ok_or_else(|| ApiError::bad_request(format!("file {part} not found in request")));
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(FileRef::Url(s.to_string()));
        }
        if s.is_empty() {
            return Err(ApiError::bad_request("file must be non-empty"));
        }
        Ok(FileRef::FileId(s.to_string()))
    }
}

/// "Bad Request: {name} is empty", Telegram's answer to a missing parameter.
pub fn empty(name: &str) -> ApiError {
    ApiError::bad_request(format!("{name} is empty"))
}

/// "Bad Request: invalid {name} specified", for a value of the wrong type.
pub fn invalid(name: &str) -> ApiError {
    ApiError::bad_request(format!("invalid {name} specified"))
}
