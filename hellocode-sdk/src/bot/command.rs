//! Recognising a command in a message.

/// A command found in a message: `!echo hello` → name `echo`, args `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    /// The name, lowercase, without prefix.
    pub name: String,
    /// Everything after the name, trimmed.
    pub args: String,
}

/// Parse `!name args` or `/name args`. Names are letters, digits, `_` and `-`; anything else
/// (including a lone `!` or `/path/like/this`) is not a command.
///
/// ```
/// use hellocode_sdk::bot::parse_command;
///
/// let parsed = parse_command("  /Find   rust ").expect("a command");
/// assert_eq!((parsed.name.as_str(), parsed.args.as_str()), ("find", "rust"));
/// assert!(parse_command("hello !echo").is_none());
/// assert!(parse_command("/usr/bin").is_none());
/// ```
pub fn parse_command(text: &str) -> Option<ParsedCommand> {
    let text = text.trim();
    let rest = text.strip_prefix('!').or_else(|| text.strip_prefix('/'))?;
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (name, args) = rest.split_at(end);
    let valid =
        !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    valid.then(|| ParsedCommand { name: name.to_lowercase(), args: args.trim().to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_non_commands() {
        let echo = parse_command("!echo hello  world").expect("a command");
        assert_eq!(echo, ParsedCommand { name: "echo".into(), args: "hello  world".into() });
        assert_eq!(parse_command("/help").map(|c| c.args), Some(String::new()));
        for text in ["", "!", "/", "! echo", "echo", "/usr/bin", "!é-x!"] {
            assert!(parse_command(text).is_none(), "{text:?}");
        }
        assert_eq!(parse_command("!é-x").map(|c| c.name), Some("é-x".into()));
    }
}
