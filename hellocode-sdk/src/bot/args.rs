//! Typed command arguments: a handler's parameter types are its argument parser.
//!
//! Each parameter after the [`Context`](super::Context) is parsed from the text after the
//! command's name, left to right: a word for `String` and the numbers, a user for [`User`],
//! everything left for [`Rest`]. `Option<T>` makes a trailing parameter optional. Words may be
//! quoted (`!remind "stand up" 10`). Text that does not fit gets a usage reply; the handler is
//! not called.

use std::fmt;

/// What one parameter expects, for usage lines and `!help`.
///
/// ```
/// use hellocode_sdk::bot::{Arg, ArgSpec};
///
/// assert_eq!(Option::<u32>::spec(), ArgSpec { kind: "integer", optional: true });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgSpec {
    /// A short name of the kind: `word`, `integer`, `number`, `user`, `text`.
    pub kind: &'static str,
    /// Whether it may be left out.
    pub optional: bool,
}

/// Why the text after a command does not fit its parameters.
///
/// ```
/// use hellocode_sdk::bot::{Arg, ArgError, ArgInput};
///
/// let error = u32::parse(&mut ArgInput::new("many")).unwrap_err();
/// assert_eq!(error, ArgError::Invalid { kind: "integer", value: "many".into() });
/// assert_eq!(error.to_string(), "\"many\" is not a valid integer");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    /// A required argument is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// An argument is not of the expected kind.
    #[error("{value:?} is not a valid {kind}")]
    Invalid {
        /// The expected kind.
        kind: &'static str,
        /// The text given.
        value: String,
    },
    /// More was given than the command takes.
    #[error("unexpected {0:?}")]
    TooMany(String),
    /// A quote was opened and never closed.
    #[error("unclosed quote")]
    UnclosedQuote,
}

/// The text after a command's name, consumed left to right by the parameters.
///
/// ```
/// use hellocode_sdk::bot::ArgInput;
///
/// let mut input = ArgInput::new(r#"remind "stand up" in 10 minutes"#);
/// assert_eq!(input.next_word(), Ok(Some("remind".to_owned())));
/// assert_eq!(input.next_word(), Ok(Some("stand up".to_owned())));
/// assert_eq!(input.take_rest(), "in 10 minutes");
/// assert!(input.is_empty() && input.finish().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct ArgInput<'a> {
    rest: &'a str,
}

impl<'a> ArgInput<'a> {
    /// Input to parse.
    pub fn new(text: &'a str) -> Self {
        ArgInput { rest: text.trim() }
    }

    /// Nothing left.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next word (a quoted one without its quotes), or `None` at the end.
    pub fn next_word(&mut self) -> Result<Option<String>, ArgError> {
        let text = self.rest;
        if text.is_empty() {
            return Ok(None);
        }
        let (word, rest) = if let Some(quoted) = text.strip_prefix('"') {
            let end = quoted.find('"').ok_or(ArgError::UnclosedQuote)?;
            (quoted[..end].to_owned(), &quoted[end + 1..])
        } else {
            let end = text.find(char::is_whitespace).unwrap_or(text.len());
            (text[..end].to_owned(), &text[end..])
        };
        self.rest = rest.trim_start();
        Ok(Some(word))
    }

    /// Everything left, trimmed (empty at the end).
    pub fn take_rest(&mut self) -> String {
        std::mem::take(&mut self.rest).trim().to_owned()
    }

    /// Fails with [`ArgError::TooMany`] if anything is left.
    pub fn finish(&self) -> Result<(), ArgError> {
        if self.rest.is_empty() { Ok(()) } else { Err(ArgError::TooMany(self.rest.to_owned())) }
    }
}

/// A type a command handler can take as a parameter.
///
/// Implement it for your own types to parse them from a command's text:
///
/// ```
/// use hellocode_sdk::bot::{Arg, ArgError, ArgInput, ArgSpec};
///
/// /// A die such as `d20`.
/// struct Die(u32);
///
/// impl Arg for Die {
///     fn spec() -> ArgSpec {
///         ArgSpec { kind: "die", optional: false }
///     }
///     fn parse(input: &mut ArgInput<'_>) -> Result<Self, ArgError> {
///         let word = input.next_word()?.ok_or(ArgError::Missing("die"))?;
///         word.strip_prefix('d')
///             .and_then(|sides| sides.parse().ok())
///             .map(Die)
///             .ok_or(ArgError::Invalid { kind: "die", value: word })
///     }
/// }
///
/// let mut input = ArgInput::new("d20");
/// assert_eq!(Die::parse(&mut input).map(|die| die.0), Ok(20));
/// ```
pub trait Arg: Sized + Send + 'static {
    /// What it expects.
    fn spec() -> ArgSpec;
    /// Take it from the front of `input`.
    fn parse(input: &mut ArgInput<'_>) -> Result<Self, ArgError>;
}

/// One word (or a quoted phrase).
impl Arg for String {
    fn spec() -> ArgSpec {
        ArgSpec { kind: "word", optional: false }
    }
    fn parse(input: &mut ArgInput<'_>) -> Result<Self, ArgError> {
        input.next_word()?.ok_or(ArgError::Missing("word"))
    }
}

macro_rules! from_str_args {
    ($kind:literal: $($ty:ty),*) => {$(
        impl Arg for $ty {
            fn spec() -> ArgSpec {
                ArgSpec { kind: $kind, optional: false }
            }
            fn parse(input: &mut ArgInput<'_>) -> Result<Self, ArgError> {
                let word = input.next_word()?.ok_or(ArgError::Missing($kind))?;
                word.parse().map_err(|_| ArgError::Invalid { kind: $kind, value: word })
            }
        }
    )*};
}
from_str_args!("integer": i32, i64, u8, u16, u32, u64, usize);
from_str_args!("number": f64);

/// `yes`/`no` (also `true`/`false`, `on`/`off`, `1`/`0`), in any case.
impl Arg for bool {
    fn spec() -> ArgSpec {
        ArgSpec { kind: "yes/no", optional: false }
    }
    fn parse(input: &mut ArgInput<'_>) -> Result<Self, ArgError> {
        let word = input.next_word()?.ok_or(ArgError::Missing("yes/no"))?;
        match word.to_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Ok(true),
            "no" | "false" | "off" | "0" => Ok(false),
            _ => Err(ArgError::Invalid { kind: "yes/no", value: word }),
        }
    }
}

/// Left out, or given: only as the last parameters.
impl<T: Arg> Arg for Option<T> {
    fn spec() -> ArgSpec {
        ArgSpec { optional: true, ..T::spec() }
    }
    fn parse(input: &mut ArgInput<'_>) -> Result<Self, ArgError> {
        if input.is_empty() { Ok(None) } else { T::parse(input).map(Some) }
    }
}

/// The rest of the line, at least one character (use `Option<Rest>` if it may be empty).
///
/// ```
/// use hellocode_sdk::bot::{Arg, ArgInput, Rest};
///
/// let mut input = ArgInput::new("  hello   world ");
/// assert_eq!(Rest::parse(&mut input).map(|rest| rest.0), Ok("hello   world".to_owned()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rest(pub String);

impl Arg for Rest {
    fn spec() -> ArgSpec {
        ArgSpec { kind: "text", optional: false }
    }
    fn parse(input: &mut ArgInput<'_>) -> Result<Self, ArgError> {
        let rest = input.take_rest();
        if rest.is_empty() { Err(ArgError::Missing("text")) } else { Ok(Rest(rest)) }
    }
}

impl fmt::Display for Rest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Rest> for String {
    fn from(rest: Rest) -> String {
        rest.0
    }
}

/// A username, written with or without a leading `@`.
///
/// ```
/// use hellocode_sdk::bot::{Arg, ArgInput, User};
///
/// let mut input = ArgInput::new("@alice");
/// assert_eq!(User::parse(&mut input).map(|user| user.0), Ok("alice".to_owned()));
/// assert!(User::parse(&mut ArgInput::new("not/a/name")).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User(pub String);

impl Arg for User {
    fn spec() -> ArgSpec {
        ArgSpec { kind: "user", optional: false }
    }
    fn parse(input: &mut ArgInput<'_>) -> Result<Self, ArgError> {
        let word = input.next_word()?.ok_or(ArgError::Missing("user"))?;
        let name = word.strip_prefix('@').unwrap_or(&word);
        let valid = !name.is_empty()
            && name.len() <= 150
            && name.chars().all(|c| c.is_alphanumeric() || "@.+-_".contains(c));
        if valid {
            Ok(User(name.to_owned()))
        } else {
            Err(ArgError::Invalid { kind: "user", value: word })
        }
    }
}

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A usage line such as `!roll <sides: integer> [times: integer]`: `names` label the
/// parameters in order (unnamed ones show their kind only).
pub(crate) fn usage(prefix: &str, name: &str, specs: &[ArgSpec], names: &[String]) -> String {
    let mut line = format!("{prefix}{name}");
    for (index, spec) in specs.iter().enumerate() {
        let label = match names.get(index) {
            Some(name) => format!("{name}: {}", spec.kind),
            None => spec.kind.to_owned(),
        };
        let label = if spec.kind == "text" { format!("{label}...") } else { label };
        if spec.optional {
            line.push_str(&format!(" [{label}]"));
        } else {
            line.push_str(&format!(" <{label}>"));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: Arg>(text: &str) -> Result<T, ArgError> {
        let mut input = ArgInput::new(text);
        let value = T::parse(&mut input)?;
        input.finish()?;
        Ok(value)
    }

    #[test]
    fn words_numbers_quotes_and_rest() {
        assert_eq!(parse::<i64>(" -42 "), Ok(-42));
        assert_eq!(
            parse::<u32>("x"),
            Err(ArgError::Invalid { kind: "integer", value: "x".into() })
        );
        assert_eq!(parse::<u32>(""), Err(ArgError::Missing("integer")));
        assert_eq!(parse::<String>("\"two words\""), Ok("two words".into()));
        assert_eq!(parse::<String>("\"open"), Err(ArgError::UnclosedQuote));
        assert_eq!(parse::<String>("one two"), Err(ArgError::TooMany("two".into())));
        assert_eq!(parse::<Option<u8>>(""), Ok(None));
        assert_eq!(parse::<Option<u8>>("7"), Ok(Some(7)));
        assert_eq!(parse::<Rest>("a  b"), Ok(Rest("a  b".into())));
        assert_eq!(parse::<Rest>("  "), Err(ArgError::Missing("text")));
        assert_eq!(parse::<Option<Rest>>(""), Ok(None));
        assert_eq!(parse::<bool>("true"), Ok(true));
        assert_eq!(parse::<bool>("Yes"), Ok(true));
        assert_eq!(parse::<bool>("off"), Ok(false));
        assert!(parse::<bool>("maybe").is_err());
    }

    #[test]
    fn usage_lines_name_kinds_and_optional_parts() {
        let specs = [u32::spec(), Option::<Rest>::spec()];
        assert_eq!(
            usage("!", "roll", &specs, &["sides".into()]),
            "!roll <sides: integer> [text...]"
        );
        assert_eq!(usage("!", "ping", &[], &[]), "!ping");
    }
}
