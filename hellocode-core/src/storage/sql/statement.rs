//! Statements as plain data: SQL text and the values for its placeholders. The shared code builds
//! them without naming a sqlx type; a [`Backend`] binds the values with its own types and runs
//! them.

use std::borrow::Cow;

use super::backend::Backend;

/// A value bound to a placeholder: only the kinds of value the storage binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    I64(i64),
    OptI64(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bytes(Vec<u8>),
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::I64(value)
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Self {
        Arg::OptI64(value)
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(value)
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(value.to_owned())
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Self {
        Arg::Text(value.clone())
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        Arg::OptText(value)
    }
}

impl From<Option<&str>> for Arg {
    fn from(value: Option<&str>) -> Self {
        Arg::OptText(value.map(str::to_owned))
    }
}

impl From<&Option<String>> for Arg {
    fn from(value: &Option<String>) -> Self {
        Arg::OptText(value.clone())
    }
}

impl From<Vec<u8>> for Arg {
    fn from(value: Vec<u8>) -> Self {
        Arg::Bytes(value)
    }
}

impl From<&[u8]> for Arg {
    fn from(value: &[u8]) -> Self {
        Arg::Bytes(value.to_vec())
    }
}

/// SQL text with its arguments, in the order their placeholders appear.
///
/// The text is always fixed SQL, or placeholders around fixed SQL (see [`placeholders`] and
/// [`value_rows`]): no value is ever spliced into it, which is why the backends may hand it to
/// sqlx as `AssertSqlSafe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
}

impl Statement {
    /// A statement without arguments yet.
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        let sql = sql.into();
        // Why a LIMIT is cast: the module docs of `sql`. Every test that runs a statement checks.
        debug_assert!(!has_bare_limit(&sql), "a LIMIT takes CAST($n AS BIGINT): {sql}");
        Statement { sql, args: Vec::new() }
    }

    /// The statement with one more argument, for the next placeholder.
    pub(crate) fn bind(mut self, arg: impl Into<Arg>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The text and the arguments, for a backend to bind and run.
    pub(crate) fn into_parts(self) -> (Cow<'static, str>, Vec<Arg>) {
        (self.sql, self.args)
    }
}

/// Whether `sql` has a `LIMIT` that is a bare placeholder.
fn has_bare_limit(sql: &str) -> bool {
    sql.contains("LIMIT $") || sql.contains("LIMIT ?")
}

/// `count` placeholders for parameters `start`, `start + 1`, ….
pub(crate) fn placeholders<DB: Backend>(start: usize, count: usize) -> String {
    (start..start + count).map(DB::param).collect::<Vec<_>>().join(", ")
}

/// `(…), (…), …`: `rows` rows of `width` placeholders each, numbered from 1.
pub(crate) fn value_rows<DB: Backend>(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|n| format!("({})", placeholders::<DB>(width * n + 1, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{Arg, Statement, placeholders, value_rows};

    #[test]
    fn arguments_are_kept_in_order() {
        let (sql, args) = Statement::new("SELECT $1, $2, $3")
            .bind(1_i64)
            .bind("a")
            .bind(None::<String>)
            .bind(&b"\x00\xff"[..])
            .into_parts();
        assert_eq!(sql, "SELECT $1, $2, $3");
        assert_eq!(
            args,
            [Arg::I64(1), Arg::Text("a".into()), Arg::OptText(None), Arg::Bytes(vec![0, 255])]
        );
    }

    #[test]
    fn a_bare_limit_placeholder_is_found() {
        assert!(super::has_bare_limit("SELECT x FROM t ORDER BY x LIMIT $2"));
        assert!(super::has_bare_limit("SELECT x FROM t LIMIT ?"));
        assert!(!super::has_bare_limit("SELECT x FROM t ORDER BY x LIMIT CAST($2 AS BIGINT)"));
        assert!(!super::has_bare_limit("SELECT x FROM t LIMIT 1"));
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "a LIMIT takes CAST")]
    fn a_statement_with_a_bare_limit_is_refused_in_tests() {
        let _ = Statement::new("SELECT x FROM t LIMIT $1");
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_placeholders_are_numbered() {
        assert_eq!(placeholders::<sqlx::Postgres>(3, 2), "$3, $4");
        assert_eq!(value_rows::<sqlx::Postgres>(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_placeholders_are_anonymous() {
        assert_eq!(placeholders::<sqlx::Sqlite>(3, 2), "?, ?");
        assert_eq!(value_rows::<sqlx::Sqlite>(2, 2), "(?, ?), (?, ?)");
    }
}
