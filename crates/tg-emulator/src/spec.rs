//! Conformance checks against the Telegram Bot API 10.1 specification.
//!
//! The emulator is the independent check of Hotline's assumptions, so what it answers,
//! what it pushes and what it is asked are compared with the published specification
//! (`spec/bot-api-10.1.json`, embedded at build time) instead of with hand-written rules.
//!
//! Notes on the spec file, which the checks rely on:
//! - it has no `True` type: every "True" of the documentation is spelled `Boolean`. A
//!   method's `Boolean` return is read as `True` when its description says True is
//!   returned (all of them do), so `false` is caught there; fields stay `Boolean`;
//! - a union lists its members in `subtypes`; a member fixes its discriminator in a field
//!   description (`always "user"`, `must be photo`, `Always 0`), which is enforced and used
//!   to pick the member whose errors are reported;
//! - `RichText` lists the type expressions `String` and `Array of RichText` as members;
//! - `InputFile` is a type without fields: in JSON it can only be a string (an
//!   `attach://<name>` reference, or a multipart part that the caller stood in for).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

/// The specification, embedded so the checks cannot drift from the file in the repository.
const SPEC_JSON: &str = include_str!("../spec/bot-api-10.1.json");
/// Deepest nesting checked: a hostile value must not exhaust the stack.
const MAX_DEPTH: usize = 64;
/// Most values visited in one check: alternatives are tried, so bound the work.
const MAX_STEPS: usize = 1_000_000;
/// Root path of [`check_value`].
const VALUE_ROOT: &str = "$";
/// Root path of [`check_result`].
const RESULT_ROOT: &str = "result";

/// A violation found in an object or a request, so callers can record and show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where: `$` or `result` for the checked value, then `.field` and `[index]` steps
    /// (e.g. `result.reply_to_message.from.id`); `method.param` for parameters.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Checks `value` as an instance of the type expression `ty` (e.g. "Message",
/// "Array of Update", "True"), so updates and objects can be verified field by field.
/// Paths start at `$`.
pub fn check_value(ty: &str, value: &Value) -> Vec<Violation> {
    Checker::new(MAX_STEPS).run(&[ty], value, VALUE_ROOT)
}

/// Checks a method's answer `result` against the method's `returns` (any of the
/// alternatives may match), so every answer the emulator gives is verified.
/// Unknown method → one violation. Paths start at `result`.
pub fn check_result(method: &str, result: &Value) -> Vec<Violation> {
    let Some(m) = find_method(method) else {
        return vec![unknown_method(method)];
    };
    let returns: Vec<&str> = m.returns.iter().map(String::as_str).collect();
    Checker::new(MAX_STEPS).run(&returns, result, RESULT_ROOT)
}

/// Checks the parameter names a caller passed to `method` (case-insensitive method name):
/// unknown parameter names (message contains "unknown") and missing required parameters
/// (message contains "missing"), so client bugs show up. Multipart parts referenced by
/// `attach://` are not parameters: leave them out.
pub fn check_params(method: &str, params: &[&str]) -> Vec<Violation> {
    let Some(m) = find_method(method) else {
        return vec![unknown_method(method)];
    };
    let mut found = Vec::new();
    let declared = |name: &str| m.params.iter().any(|f| f.name == name);
    for (i, p) in params.iter().enumerate() {
        let legacy = LEGACY_PARAMS
            .iter()
            .any(|(old, new)| old == p && declared(new));
        if !declared(p) && !legacy && !params[..i].contains(p) {
            found.push(Violation {
                path: format!("{}.{p}", m.name),
                message: "unknown parameter".into(),
            });
        }
    }
    for f in m
        .params
        .iter()
        .filter(|f| f.required && !params.contains(&f.name.as_str()))
    {
        found.push(Violation {
            path: format!("{}.{}", m.name, f.name),
            message: "missing required parameter".into(),
        });
    }
    found
}

/// Parameters the documentation replaced but the Bot API server still accepts, with
/// their replacement: a method that has the replacement takes the old name too, so a
/// caller using it (older libraries, Hotline's own client) is not at fault. Bot API 7.0
/// replaced `reply_to_message_id` and `allow_sending_without_reply` with
/// `reply_parameters`; the emulator honours both.
pub const LEGACY_PARAMS: &[(&str, &str)] = &[
    ("reply_to_message_id", "reply_parameters"),
    ("allow_sending_without_reply", "reply_parameters"),
];

/// The canonical (spec) spelling of a method name matched case-insensitively, or None,
/// because Telegram accepts method names in any case.
pub fn canonical_method(name: &str) -> Option<&'static str> {
    find_method(name).map(|m| m.name.as_str())
}

/// Declared parameters of a method: (name, type expressions, required), so parameter
/// parsing can follow the spec rather than a copy of it.
pub fn method_params(method: &str) -> Option<Vec<(&'static str, Vec<&'static str>, bool)>> {
    let m = find_method(method)?;
    Some(
        m.params
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.types.iter().map(String::as_str).collect(),
                    f.required,
                )
            })
            .collect(),
    )
}

/// Whether a type expression is a primitive (String, Integer, Float, Boolean, InputFile,
/// or an array of them): such parameters carry no object fields to drop.
pub fn is_primitive(ty: &str) -> bool {
    let mut base = ty;
    while let Some(inner) = base.strip_prefix("Array of ") {
        base = inner;
    }
    primitive(base, &Value::Null).is_some()
}

/// Removes, in place, the fields of input objects that the spec does not know for the
/// type expressions `types` (alternatives, as a parameter declares them), at any depth,
/// because Telegram drops them rather than storing or echoing them (telegraf sends
/// `hide: false` on inline buttons). Values of the wrong kind are left for the method
/// to refuse. For a union, the member that fits best (discriminator first) is used.
pub fn drop_unknown_fields(types: &[&str], value: &mut Value) {
    strip(&Checker::new(0), types, value, 0);
}

fn strip(checker: &Checker, alternatives: &[&str], value: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => {
            let inner: Vec<&str> = alternatives
                .iter()
                .filter_map(|t| t.strip_prefix("Array of "))
                .collect();
            if !inner.is_empty() {
                for item in items {
                    strip(checker, &inner, item, depth + 1);
                }
            }
        }
        Value::Object(_) => {
            let mut candidates = Vec::new();
            for ty in alternatives {
                object_members(checker.spec, ty, &mut candidates, 0);
            }
            let best = candidates.into_iter().min_by_key(|ty| {
                let s = checker.shallow(ty, value, 0);
                (!s.kind, !s.discriminated, s.errors)
            });
            let Some(Kind::Object(fields)) = best.and_then(|ty| checker.spec.types.get(ty)) else {
                return;
            };
            let Value::Object(map) = value else { return };
            map.retain(|name, _| fields.iter().any(|f| f.name == *name));
            for f in fields {
                if let Some(v) = map.get_mut(&f.name) {
                    let types: Vec<&str> = f.types.iter().map(String::as_str).collect();
                    strip(checker, &types, v, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// The object types a type expression stands for (a union's members, recursively).
fn object_members<'a>(spec: &'a Spec, ty: &'a str, out: &mut Vec<&'a str>, depth: usize) {
    match spec.types.get(ty) {
        Some(Kind::Object(_)) => out.push(ty),
        Some(Kind::Union(members)) if depth < 4 => {
            for m in members {
                object_members(spec, m, out, depth + 1);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// The parsed specification.

#[derive(Deserialize)]
struct RawSpec {
    methods: HashMap<String, RawMethod>,
    types: HashMap<String, RawType>,
}

#[derive(Deserialize)]
struct RawField {
    name: String,
    types: Vec<String>,
    required: bool,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct RawType {
    #[serde(default)]
    fields: Vec<RawField>,
    #[serde(default)]
    subtypes: Vec<String>,
    #[serde(default)]
    subtype_of: Vec<String>,
}

#[derive(Deserialize)]
struct RawMethod {
    name: String,
    #[serde(default)]
    fields: Vec<RawField>,
    returns: Vec<String>,
    #[serde(default)]
    description: Vec<String>,
}

struct Field {
    name: String,
    types: Vec<String>,
    required: bool,
    /// The fixed value of a union member's discriminator.
    constant: Option<Value>,
}

enum Kind {
    Object(Vec<Field>),
    Union(Vec<String>),
}

struct Method {
    name: String,
    params: Vec<Field>,
    returns: Vec<String>,
}

struct Spec {
    types: HashMap<String, Kind>,
    /// Keyed by the lowercase name.
    methods: HashMap<String, Method>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let raw: RawSpec =
            serde_json::from_str(SPEC_JSON).expect("the embedded Bot API spec parses");
        Spec::from_raw(raw)
    })
}

impl Spec {
    fn from_raw(raw: RawSpec) -> Spec {
        let field = |f: RawField, member: bool| Field {
            constant: if member {
                constant_of(&f.description)
            } else {
                None
            },
            name: f.name,
            types: f.types,
            required: f.required,
        };
        let types = raw
            .types
            .into_iter()
            .map(|(name, t)| {
                let kind = if t.subtypes.is_empty() {
                    let member = !t.subtype_of.is_empty();
                    Kind::Object(t.fields.into_iter().map(|f| field(f, member)).collect())
                } else {
                    Kind::Union(t.subtypes)
                };
                (name, kind)
            })
            .collect();
        let methods = raw
            .methods
            .into_values()
            .map(|m| {
                // The file spells "Returns True on success" as Boolean; nothing returns false.
                let says_true = m.description.iter().any(|d| d.contains("True"));
                let returns = m
                    .returns
                    .into_iter()
                    .map(|r| {
                        if r == "Boolean" && says_true {
                            "True".to_string()
                        } else {
                            r
                        }
                    })
                    .collect();
                let params = m.fields.into_iter().map(|f| field(f, false)).collect();
                (
                    m.name.to_ascii_lowercase(),
                    Method {
                        name: m.name,
                        params,
                        returns,
                    },
                )
            })
            .collect();
        Spec { types, methods }
    }
}

fn find_method(name: &str) -> Option<&'static Method> {
    spec().methods.get(&name.to_ascii_lowercase())
}

fn unknown_method(method: &str) -> Violation {
    Violation {
        path: method.to_string(),
        message: "unknown method (not in Bot API 10.1)".into(),
    }
}

/// The fixed value a union member's field description documents: `always "user"`
/// (straight or curly quotes), `Always 0`, or a trailing `must be photo`.
fn constant_of(description: &str) -> Option<Value> {
    // ASCII lowercasing keeps byte offsets.
    if let Some(i) = description.to_ascii_lowercase().find("always ") {
        let rest = &description[i + "always ".len()..];
        if let Some(quoted) = rest.strip_prefix('"').or_else(|| rest.strip_prefix('“')) {
            if let Some(end) = quoted.find(['"', '”']) {
                return Some(Value::String(quoted[..end].to_string()));
            }
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let ends_word = !rest[digits..].starts_with(|c: char| c.is_alphanumeric());
        if digits > 0 && ends_word {
            if let Ok(n) = rest[..digits].parse::<i64>() {
                return Some(Value::from(n));
            }
        }
    }
    if let Some(i) = description.find("must be ") {
        let word = description[i + "must be ".len()..]
            .trim()
            .trim_end_matches('.');
        let is_word = word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !word.is_empty() && is_word {
            return Some(Value::String(word.to_string()));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// The checks.

/// How a value looks against one alternative without descending into it.
#[derive(Clone, Copy)]
struct Shallow {
    /// The JSON kind fits (object for a type, array for "Array of", ...).
    kind: bool,
    /// A union member's discriminator has its fixed value.
    discriminated: bool,
    /// Violations found at this level only.
    errors: usize,
}

struct Checker {
    spec: &'static Spec,
    steps: usize,
    max_steps: usize,
    /// The first place nested too deeply, reported once by `run`.
    too_deep: Option<String>,
}

impl Checker {
    fn new(max_steps: usize) -> Checker {
        Checker {
            spec: spec(),
            steps: 0,
            max_steps,
            too_deep: None,
        }
    }

    fn run(&mut self, alternatives: &[&str], value: &Value, root: &str) -> Vec<Violation> {
        let mut out = Vec::new();
        self.any(alternatives, value, root, 0, &mut out);
        if let Some(path) = self.too_deep.take() {
            out.push(violation(
                &path,
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        if self.steps > self.max_steps {
            out.push(violation(
                root,
                format!(
                    "too large to check completely (over {} values)",
                    self.max_steps
                ),
            ));
        }
        out
    }

    /// `value` must be one of `alternatives` (type expressions).
    fn any(
        &mut self,
        alternatives: &[&str],
        value: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if let [only] = alternatives {
            return self.check(only, value, path, depth, out);
        }
        let shallow: Vec<Shallow> = alternatives
            .iter()
            .map(|a| self.shallow(a, value, 0))
            .collect();
        // Discriminated alternatives first; otherwise the order of the spec.
        let mut order: Vec<usize> = (0..alternatives.len()).collect();
        order.sort_by_key(|&i| !shallow[i].discriminated);

        // Deep checks only where the top level fits: keeps the work linear in practice.
        let mut best: Option<Vec<Violation>> = None;
        for &i in order.iter().filter(|&&i| shallow[i].errors == 0) {
            let mut found = Vec::new();
            self.check(alternatives[i], value, path, depth, &mut found);
            if found.is_empty() {
                return;
            }
            if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                best = Some(found);
            }
        }
        if let Some(best) = best {
            out.extend(best);
            return;
        }
        if !shallow.iter().any(|s| s.kind) {
            let expected = alternatives.join(" or ");
            out.push(violation(
                path,
                format!("expected {expected}, got {}", describe(value)),
            ));
            return;
        }
        let pick = order
            .iter()
            .copied()
            .filter(|&i| shallow[i].kind)
            .min_by_key(|&i| (!shallow[i].discriminated, shallow[i].errors))
            .expect("some alternative has the right kind");
        self.check(alternatives[pick], value, path, depth, out);
    }

    /// `value` must be an instance of the type expression `ty`.
    fn check(
        &mut self,
        ty: &str,
        value: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        self.steps += 1;
        // Both limits are reported once by `run`.
        if self.steps > self.max_steps {
            return;
        }
        if depth > MAX_DEPTH {
            self.too_deep.get_or_insert_with(|| path.to_string());
            return;
        }
        if let Some(item) = ty.strip_prefix("Array of ") {
            match value {
                Value::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item, v, &format!("{path}[{i}]"), depth + 1, out);
                    }
                }
                _ => out.push(violation(
                    path,
                    format!("expected {ty}, got {}", describe(value)),
                )),
            }
            return;
        }
        if let Some(fits) = primitive(ty, value) {
            if !fits {
                let expected = if ty == "True" { "true" } else { ty };
                out.push(violation(
                    path,
                    format!("expected {expected}, got {}", describe(value)),
                ));
            }
            return;
        }
        match self.spec.types.get(ty) {
            None => out.push(violation(
                path,
                format!("type {ty} is not in the Bot API spec"),
            )),
            Some(Kind::Union(members)) => {
                let members: Vec<&str> = members.iter().map(String::as_str).collect();
                self.any(&members, value, path, depth, out);
            }
            Some(Kind::Object(fields)) => {
                let Value::Object(map) = value else {
                    out.push(violation(
                        path,
                        format!("expected {ty} object, got {}", describe(value)),
                    ));
                    return;
                };
                for (name, v) in map {
                    let here = format!("{path}.{name}");
                    let Some(field) = fields.iter().find(|f| f.name == *name) else {
                        out.push(violation(&here, format!("unknown field of {ty}")));
                        continue;
                    };
                    if let Some(c) = &field.constant {
                        if v != c {
                            out.push(violation(
                                &here,
                                format!("must be {c} in {ty}, got {}", describe(v)),
                            ));
                            continue;
                        }
                    }
                    let types: Vec<&str> = field.types.iter().map(String::as_str).collect();
                    self.any(&types, v, &here, depth + 1, out);
                }
                for f in fields
                    .iter()
                    .filter(|f| f.required && !map.contains_key(&f.name))
                {
                    out.push(violation(
                        &format!("{path}.{}", f.name),
                        format!("missing required field of {ty}"),
                    ));
                }
            }
        }
    }

    /// How `value` fits `ty` at its top level only.
    fn shallow(&self, ty: &str, value: &Value, depth: usize) -> Shallow {
        let kind = |fits: bool| Shallow {
            kind: fits,
            discriminated: false,
            errors: usize::from(!fits),
        };
        if ty.starts_with("Array of ") {
            return kind(value.is_array());
        }
        if let Some(fits) = primitive(ty, value) {
            // `false` for True is the right kind with a wrong value.
            let right_kind = fits || (ty == "True" && value.is_boolean());
            return Shallow {
                kind: right_kind,
                discriminated: false,
                errors: usize::from(!fits),
            };
        }
        match self.spec.types.get(ty) {
            None => kind(false),
            // A union inside alternatives: its best member (no union nests deeply).
            Some(Kind::Union(members)) if depth < 4 => members
                .iter()
                .map(|m| self.shallow(m, value, depth + 1))
                .min_by_key(|s| (!s.kind, !s.discriminated, s.errors))
                .unwrap_or(kind(false)),
            Some(Kind::Union(_)) => kind(value.is_object()),
            Some(Kind::Object(fields)) => {
                let Value::Object(map) = value else {
                    return kind(false);
                };
                let mut s = Shallow {
                    kind: true,
                    discriminated: false,
                    errors: 0,
                };
                s.errors += map
                    .keys()
                    .filter(|k| !fields.iter().any(|f| f.name == **k))
                    .count();
                for f in fields {
                    match (map.get(&f.name), &f.constant) {
                        (None, _) if f.required => s.errors += 1,
                        (Some(v), Some(c)) if v == c => s.discriminated = true,
                        (Some(_), Some(_)) => s.errors += 1,
                        _ => {}
                    }
                }
                s
            }
        }
    }
}

/// Whether `value` fits a primitive type expression; None when `ty` is not primitive.
fn primitive(ty: &str, value: &Value) -> Option<bool> {
    Some(match ty {
        // Telegram ids can exceed 32 bits but fit in 64.
        "Integer" => value.as_i64().is_some(),
        "Float" => value.is_number(),
        "String" => value.is_string(),
        "Boolean" => value.is_boolean(),
        "True" => *value == Value::Bool(true),
        // In JSON a file is an `attach://<name>` reference (or stands for a multipart part).
        "InputFile" => value.is_string(),
        _ => return None,
    })
}

fn violation(path: &str, message: String) -> Violation {
    Violation {
        path: path.to_string(),
        message,
    }
}

/// A short description of a value for messages: its kind, or the value when small.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("integer {n}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("string {value}"),
        Value::String(_) => "a long string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat() -> Value {
        json!({"id": -1001234567890i64, "type": "supergroup", "title": "Team", "is_forum": true})
    }

    fn user() -> Value {
        json!({"id": 5_000_000_000i64, "is_bot": false, "first_name": "Ann", "username": "ann"})
    }

    fn message() -> Value {
        json!({
            "message_id": 5,
            "message_thread_id": 3,
            "date": 1_700_000_000,
            "chat": chat(),
            "from": user(),
            "text": "hello /start",
            "entities": [{"type": "bot_command", "offset": 6, "length": 6}],
            "reply_to_message": {
                "message_id": 4,
                "date": 1_699_999_999,
                "chat": chat(),
                "from": user(),
                "text": "hi",
            },
        })
    }

    fn admin() -> Value {
        json!({
            "status": "administrator", "user": user(), "can_be_edited": false, "is_anonymous": false,
            "can_manage_chat": true, "can_delete_messages": true, "can_manage_video_chats": true,
            "can_restrict_members": true, "can_promote_members": false, "can_change_info": true,
            "can_invite_users": true, "can_post_stories": false, "can_edit_stories": false,
            "can_delete_stories": false, "can_manage_topics": true,
        })
    }

    fn paths(found: &[Violation]) -> Vec<&str> {
        found.iter().map(|v| v.path.as_str()).collect()
    }

    #[test]
    fn valid_message_passes() {
        assert_eq!(check_value("Message", &message()), vec![]);
        let update = json!({"update_id": 10, "message": message()});
        assert_eq!(check_value("Update", &update), vec![]);
        assert_eq!(
            check_value("Array of Update", &json!([update, {"update_id": 11}])),
            vec![]
        );
    }

    #[test]
    fn unknown_field_fails() {
        let mut m = message();
        m["reply_to_message"]["from"]["nickname"] = json!("x");
        let found = check_value("Message", &m);
        assert_eq!(paths(&found), ["$.reply_to_message.from.nickname"]);
        assert!(
            found[0].message.contains("unknown field of User"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn missing_required_field_fails() {
        let mut m = message();
        m["chat"].as_object_mut().unwrap().remove("type");
        let found = check_value("Message", &m);
        assert_eq!(paths(&found), ["$.chat.type"]);
        assert!(found[0].message.contains("missing required field of Chat"));
    }

    #[test]
    fn wrong_json_type_fails() {
        let mut m = message();
        m["reply_to_message"]["from"]["id"] = json!("5000000000");
        let found = check_value("Message", &m);
        assert_eq!(paths(&found), ["$.reply_to_message.from.id"]);
        assert_eq!(
            found[0].to_string(),
            "$.reply_to_message.from.id: expected Integer, got string \"5000000000\""
        );

        let mut m = message();
        m["entities"][0]["offset"] = json!(1.5);
        assert_eq!(paths(&check_value("Message", &m)), ["$.entities[0].offset"]);
        m["entities"] = json!({"type": "bold"});
        assert_eq!(paths(&check_value("Message", &m)), ["$.entities"]);
        m["entities"] = json!(null);
        assert_eq!(paths(&check_value("Message", &m)), ["$.entities"]);
    }

    #[test]
    fn primitives() {
        assert!(check_value("Integer", &json!(-1_001_234_567_890i64)).is_empty());
        assert!(!check_value("Integer", &json!(1.0)).is_empty());
        assert!(!check_value("Integer", &json!(u64::MAX)).is_empty());
        assert!(check_value("Float", &json!(1)).is_empty());
        assert!(check_value("Float", &json!(1.5)).is_empty());
        assert!(!check_value("Float", &json!("1.5")).is_empty());
        assert!(check_value("Boolean", &json!(false)).is_empty());
        assert!(!check_value("String", &json!(1)).is_empty());
        assert!(check_value("Array of Array of Integer", &json!([[1, 2], []])).is_empty());
        assert_eq!(
            paths(&check_value(
                "Array of Array of Integer",
                &json!([[1], [2, "3"]])
            )),
            ["$[1][1]"]
        );
        assert!(check_value("InputFile", &json!("attach://file0")).is_empty());
    }

    #[test]
    fn true_is_exactly_true() {
        assert!(check_value("True", &json!(true)).is_empty());
        let found = check_value("True", &json!(false));
        assert_eq!(found[0].to_string(), "$: expected true, got false");
        assert!(!check_value("True", &json!(1)).is_empty());
    }

    #[test]
    fn empty_types_are_empty_objects() {
        assert!(check_value("ForumTopicClosed", &json!({})).is_empty());
        assert!(!check_value("ForumTopicClosed", &json!({"x": 1})).is_empty());
        assert!(!check_value("ForumTopicClosed", &json!(true)).is_empty());
    }

    #[test]
    fn unknown_type_is_reported() {
        let found = check_value("Nonsense", &json!({}));
        assert!(found[0].message.contains("not in the Bot API spec"));
    }

    #[test]
    fn unions_pass() {
        let origin = json!({"type": "user", "date": 1, "sender_user": user()});
        assert!(check_value("MessageOrigin", &origin).is_empty());
        let hidden = json!({"type": "hidden_user", "date": 1, "sender_user_name": "Bob"});
        assert!(check_value("MessageOrigin", &hidden).is_empty());
        assert!(check_value("ChatMember", &admin()).is_empty());
        assert!(check_value("ChatMember", &json!({"status": "member", "user": user()})).is_empty());
        let mut m = message();
        m["forward_origin"] = origin;
        m["pinned_message"] = json!({"chat": chat(), "message_id": 1, "date": 0});
        assert_eq!(check_value("Message", &m), vec![]);
        m["pinned_message"] = message();
        assert_eq!(check_value("Message", &m), vec![]);
        // InlineQueryResult members share discriminators: the fields decide.
        let cached = json!({"type": "photo", "id": "1", "photo_file_id": "AgAD"});
        let by_url = json!({"type": "photo", "id": "2", "photo_url": "https://x/p.jpg", "thumbnail_url": "https://x/t.jpg"});
        assert!(check_value("Array of InlineQueryResult", &json!([cached, by_url])).is_empty());
        // RichText lists plain strings and arrays among its members.
        let rich =
            json!(["plain", {"type": "bold", "text": ["a", {"type": "italic", "text": "b"}]}]);
        assert_eq!(check_value("RichText", &rich), vec![]);
    }

    #[test]
    fn bad_unions_fail_with_the_discriminated_members_errors() {
        // A user origin missing its user: reported against MessageOriginUser.
        let found = check_value("MessageOrigin", &json!({"type": "user", "date": 1}));
        assert_eq!(paths(&found), ["$.sender_user"]);
        assert!(
            found[0].message.contains("MessageOriginUser"),
            "{}",
            found[0]
        );

        let mut a = admin();
        a["can_manage_chat"] = json!("yes");
        let found = check_value("ChatMember", &a);
        assert_eq!(paths(&found), ["$.can_manage_chat"]);

        let mut a = admin();
        a.as_object_mut().unwrap().remove("can_delete_messages");
        let found = check_value("ChatMember", &a);
        assert_eq!(paths(&found), ["$.can_delete_messages"]);
        assert!(found[0].message.contains("ChatMemberAdministrator"));

        // An unknown discriminator value fails against the closest member.
        let found = check_value("ChatMember", &json!({"status": "admin", "user": user()}));
        assert!(!found.is_empty());
        assert!(
            found
                .iter()
                .any(|v| v.path == "$.status" && v.message.contains("must be")),
            "{found:?}"
        );

        // Members enforce their discriminator when checked directly too.
        let found = check_value(
            "ReactionTypeEmoji",
            &json!({"type": "custom_emoji", "emoji": "👍"}),
        );
        assert_eq!(paths(&found), ["$.type"]);

        // An inaccessible message has date 0; other dates need a full message, which
        // this is (it is valid as Message), so only a real mismatch is reported.
        let found = check_value(
            "MaybeInaccessibleMessage",
            &json!({"chat": chat(), "message_id": 1}),
        );
        assert_eq!(paths(&found), ["$.date"]);
        assert!(!check_value("MaybeInaccessibleMessage", &json!("x")).is_empty());
    }

    #[test]
    fn alternatives_of_a_field() {
        let p = json!({"type": "chat", "chat_id": "@team"});
        assert!(check_value("BotCommandScope", &p).is_empty());
        let p = json!({"type": "chat", "chat_id": -100});
        assert!(check_value("BotCommandScope", &p).is_empty());
        let found = check_value("BotCommandScope", &json!({"type": "chat", "chat_id": true}));
        assert_eq!(
            found[0].to_string(),
            "$.chat_id: expected Integer or String, got true"
        );
    }

    #[test]
    fn check_result_for_methods() {
        assert_eq!(check_result("sendMessage", &message()), vec![]);
        assert_eq!(check_result("SendMessage", &message()), vec![]);
        let found = check_result("sendMessage", &json!(true));
        assert_eq!(paths(&found), ["result"]);

        assert_eq!(check_result("editMessageText", &json!(true)), vec![]);
        assert_eq!(check_result("editMessageText", &message()), vec![]);
        let found = check_result("editMessageText", &json!(false));
        assert_eq!(found[0].to_string(), "result: expected true, got false");
        let mut m = message();
        m["text"] = json!(7);
        assert_eq!(paths(&check_result("editMessageText", &m)), ["result.text"]);

        assert_eq!(
            check_result(
                "copyMessages",
                &json!([{"message_id": 1}, {"message_id": 2}])
            ),
            vec![]
        );
        let found = check_result("copyMessages", &json!([{"message_id": 1}, {"id": 2}]));
        assert_eq!(paths(&found), ["result[1].id", "result[1].message_id"]);

        assert_eq!(check_result("setWebhook", &json!(true)), vec![]);
        assert!(!check_result("setWebhook", &json!(false)).is_empty());
        assert!(check_result("getChatMemberCount", &json!(3)).is_empty());
        assert!(check_result("getChatMember", &admin()).is_empty());
        assert!(check_result("getUpdates", &json!([])).is_empty());

        let found = check_result("sendTelepathy", &json!(true));
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("unknown method"));
    }

    #[test]
    fn check_params_catches_unknown_and_missing() {
        assert!(check_params("sendMessage", &["chat_id", "text", "parse_mode"]).is_empty());
        let found = check_params("sendmessage", &["chat_id", "txt", "txt"]);
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "sendMessage.txt: unknown parameter",
                "sendMessage.text: missing required parameter"
            ]
        );
        assert!(found[0].message.contains("unknown") && !found[1].message.contains("unknown"));
        assert!(check_params("getMe", &[]).is_empty());
        // The legacy reply parameters are accepted where reply_parameters exists.
        let legacy = ["chat_id", "text", "reply_to_message_id"];
        assert!(check_params("sendMessage", &legacy).is_empty());
        let legacy = [
            "chat_id",
            "from_chat_id",
            "message_id",
            "allow_sending_without_reply",
        ];
        assert!(check_params("copyMessage", &legacy).is_empty());
        assert_eq!(
            check_params("getChat", &["chat_id", "reply_to_message_id"])[0].to_string(),
            "getChat.reply_to_message_id: unknown parameter"
        );
        assert!(check_params("editMessageText", &["inline_message_id", "text"]).is_empty());
        assert!(check_params("nope", &[])[0]
            .message
            .contains("unknown method"));
    }

    #[test]
    fn unknown_fields_of_input_objects_are_dropped() {
        let mut kb = json!({"inline_keyboard": [[
            {"text": "a", "callback_data": "x", "hide": false},
            {"text": "b", "url": "https://x", "web_app": {"url": "https://y", "z": 1}}
        ]], "extra": 1});
        let types = [
            "InlineKeyboardMarkup",
            "ReplyKeyboardMarkup",
            "ReplyKeyboardRemove",
            "ForceReply",
        ];
        drop_unknown_fields(&types, &mut kb);
        assert_eq!(
            kb,
            json!({"inline_keyboard": [[
                {"text": "a", "callback_data": "x"},
                {"text": "b", "url": "https://x", "web_app": {"url": "https://y"}}
            ]]})
        );
        // A union member is chosen by its discriminator.
        let mut media = json!([{"type": "photo", "media": "attach://a", "has_spoiler": true, "duration": 3},
            {"type": "video", "media": "attach://b", "duration": 3, "hide": 1}]);
        let types = ["Array of InputMediaPhoto", "Array of InputMediaVideo"];
        drop_unknown_fields(&types, &mut media);
        assert_eq!(
            media[0],
            json!({"type": "photo", "media": "attach://a", "has_spoiler": true})
        );
        assert_eq!(
            media[1],
            json!({"type": "video", "media": "attach://b", "duration": 3})
        );
        // Values of another kind are left for the method to refuse.
        let mut text = json!("not an object");
        drop_unknown_fields(&["ReplyParameters"], &mut text);
        assert_eq!(text, json!("not an object"));
        assert!(
            is_primitive("Array of Array of Integer") && !is_primitive("Array of MessageEntity")
        );
    }

    #[test]
    fn method_names_and_params() {
        assert_eq!(canonical_method("SENDMESSAGE"), Some("sendMessage"));
        assert_eq!(canonical_method("getupdates"), Some("getUpdates"));
        assert_eq!(canonical_method("sendTelepathy"), None);
        let params = method_params("sendMessage").unwrap();
        assert!(params.contains(&("chat_id", vec!["Integer", "String"], true)));
        assert!(params.contains(&("text", vec!["String"], true)));
        assert!(params.iter().any(|(n, _, req)| *n == "parse_mode" && !req));
        assert_eq!(method_params("getMe"), Some(vec![]));
        assert_eq!(method_params("nope"), None);
    }

    #[test]
    fn hostile_nesting_is_cut_off() {
        let mut m = json!({"message_id": 1, "date": 1, "chat": chat()});
        for _ in 0..200 {
            m = json!({"message_id": 1, "date": 1, "chat": chat(), "reply_to_message": m});
        }
        let found = check_value("Message", &m);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("deeper than 64"));

        let mut rich = json!("x");
        for _ in 0..120 {
            rich = json!([{"type": "bold", "text": rich}]);
        }
        let found = check_value("RichText", &rich);
        assert!(
            found.iter().any(|v| v.message.contains("deeper than")),
            "{found:?}"
        );
    }

    #[test]
    fn work_is_bounded() {
        let big = Value::Array(vec![json!(1); 50]);
        let found = Checker::new(10).run(&["Array of Integer"], &big, "$");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("too large"));
        assert!(Checker::new(51)
            .run(&["Array of Integer"], &big, "$")
            .is_empty());
    }

    #[test]
    fn every_type_expression_resolves() {
        let s = spec();
        let resolves = |expr: &str| {
            let mut base = expr;
            while let Some(inner) = base.strip_prefix("Array of ") {
                base = inner;
            }
            primitive(base, &Value::Null).is_some() || s.types.contains_key(base)
        };
        for (name, kind) in &s.types {
            match kind {
                Kind::Object(fields) => {
                    for f in fields {
                        assert!(
                            f.types.iter().all(|t| resolves(t)),
                            "{name}.{}: {:?}",
                            f.name,
                            f.types
                        );
                    }
                }
                Kind::Union(members) => {
                    assert!(members.iter().all(|t| resolves(t)), "{name}: {members:?}")
                }
            }
        }
        for m in s.methods.values() {
            assert!(
                m.returns.iter().all(|t| resolves(t)),
                "{}: {:?}",
                m.name,
                m.returns
            );
            for f in &m.params {
                assert!(f.types.iter().all(|t| resolves(t)), "{}.{}", m.name, f.name);
            }
        }
    }

    #[test]
    fn discriminators_are_found() {
        let s = spec();
        let constant = |ty: &str, field: &str| match &s.types[ty] {
            Kind::Object(fields) => fields
                .iter()
                .find(|f| f.name == field)
                .unwrap()
                .constant
                .clone(),
            Kind::Union(_) => panic!("{ty} is a union"),
        };
        assert_eq!(constant("MessageOriginUser", "type"), Some(json!("user")));
        assert_eq!(
            constant("ChatMemberOwner", "status"),
            Some(json!("creator"))
        );
        assert_eq!(constant("InputMediaPhoto", "type"), Some(json!("photo")));
        assert_eq!(
            constant("PassportElementErrorFiles", "source"),
            Some(json!("files"))
        );
        assert_eq!(constant("InaccessibleMessage", "date"), Some(json!(0)));
        assert_eq!(constant("InputStoryContentPhoto", "photo"), None);
        assert_eq!(constant("Chat", "type"), None);
        assert_eq!(
            constant_of("Type of the origin, always “user”"),
            Some(json!("user"))
        );
        assert_eq!(constant_of("Photo, must be of the size 1080x1920"), None);
        // Every member of every union except the shape-only ones has exactly one.
        for (name, kind) in &s.types {
            let Kind::Union(members) = kind else { continue };
            if ["MaybeInaccessibleMessage", "InputMessageContent"].contains(&name.as_str()) {
                continue;
            }
            for m in members.iter().filter(|m| s.types.contains_key(m.as_str())) {
                let Kind::Object(fields) = &s.types[m] else {
                    panic!("{m} is a union")
                };
                let n = fields.iter().filter(|f| f.constant.is_some()).count();
                assert_eq!(n, 1, "{name} member {m}");
            }
        }
    }
}
