//! TEMPORARY STUB (being replaced by the real conformance checker).
use serde_json::Value;
pub struct Violation { pub path: String, pub message: String }
impl std::fmt::Display for Violation { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{}: {}", self.path, self.message) } }
pub fn check_value(_ty: &str, _value: &Value) -> Vec<Violation> { Vec::new() }
pub fn check_result(_method: &str, _result: &Value) -> Vec<Violation> { Vec::new() }
pub fn check_params(_method: &str, _params: &[&str]) -> Vec<Violation> { Vec::new() }
