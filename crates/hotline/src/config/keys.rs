//! Every key the configuration file accepts and every variable the parser reads, taken from
//! the code that parses them (the serde structs' field lists and the parser's own environment
//! look-ups), so `docs/configuration.md` can be checked against the code instead of against a
//! second list that could drift.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::{
    Config, Limits, RawConfig, RawConnection, RawHttp, RawSetupBot, RawWebhooks, PARAM_NAMES,
};

/// Dotted names of every key the file accepts: top-level keys, then `http.*`, `limits.*`,
/// `connection.*` and `connection.params.*` (the parameter names). Tables are not keys of
/// their own: `[http]` yields `http.listen`, not `http`.
pub fn file_keys() -> Vec<String> {
    let mut keys = Vec::new();
    table_keys("", fields_of::<RawConfig>(), &mut keys);
    keys
}

/// The tables inside tables, by dotted path, with the keys each accepts.
fn subtable(path: &str) -> Option<&'static [&'static str]> {
    match path {
        "http" => Some(fields_of::<RawHttp>()),
        "limits" => Some(fields_of::<Limits>()),
        "webhooks" => Some(fields_of::<RawWebhooks>()),
        "connection" => Some(fields_of::<RawConnection>()),
        "setup_bot" => Some(fields_of::<RawSetupBot>()),
        "connection.params" => Some(PARAM_NAMES),
        _ => None,
    }
}

fn table_keys(prefix: &str, fields: &[&str], out: &mut Vec<String>) {
    for field in fields {
        let path = format!("{prefix}{field}");
        match subtable(&path) {
            Some(inner) => table_keys(&format!("{path}."), inner, out),
            None => out.push(path),
        }
    }
}

/// Every environment variable [`Config::parse`] consults, found by running it with an
/// environment that records the look-ups. Per-connection variables are shown with `<NAME>`
/// for the connection name (`HOTLINE_<NAME>_TOKEN`).
pub fn env_keys() -> Vec<String> {
    let asked = RefCell::new(Vec::new());
    let probe = "[[connection]]\nname = \"probe\"\n\n[setup_bot]\n";
    let _ = Config::parse(probe, Path::new("."), |k| {
        asked.borrow_mut().push(k.replace("_PROBE_", "_<NAME>_"));
        None
    });
    let mut keys = asked.into_inner();
    keys.dedup();
    keys
}

/// The field names serde's derive gives a struct, read by asking it to deserialize from a
/// deserializer that only records what `deserialize_struct` is told and then stops.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut probe = FieldProbe(&[]);
    let _ = T::deserialize(&mut probe);
    probe.0
}

struct FieldProbe(&'static [&'static str]);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for &mut FieldProbe {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_structs() {
        let keys = file_keys();
        for k in [
            "database_url",
            "log_format",
            "http.listen",
            "limits.group_per_minute",
            "connection.token_file",
            "connection.webhook_secret",
            "connection.params.WELCOME",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
        assert!(!keys.iter().any(|k| k == "http" || k == "connection"));
    }

    #[test]
    fn env_keys_come_from_the_parser() {
        let keys = env_keys();
        for k in [
            "HOTLINE_DATABASE_URL",
            "HOTLINE_HTTP_LISTEN",
            "HOTLINE_<NAME>_TOKEN",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
    }
}
