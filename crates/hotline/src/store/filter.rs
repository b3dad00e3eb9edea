//! A condition over contacts compiled elsewhere (from a segment, see `segments`)
//! and run here: the store only binds its values in order.

/// A value bound to a compiled condition's placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// An integer.
    Int(i64),
    /// A text.
    Text(String),
}

/// A condition compiled for SQL: `sql` is a boolean condition over `contacts c` whose
/// placeholders `$base..` take `binds` in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The condition.
    pub sql: String,
    /// Values of its placeholders.
    pub binds: Vec<Bind>,
}
