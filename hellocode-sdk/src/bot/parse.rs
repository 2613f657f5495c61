//! Recognising a command in a message.

/// A command found in a message: `!echo hello` → name `echo`, args `hello`.
///
/// ```
/// use hellocode_sdk::bot::{ParsedCommand, parse_command};
///
/// let parsed = parse_command("!Echo hello").expect("a command");
/// assert_eq!(parsed, ParsedCommand { name: "echo".into(), args: "hello".into() });
/// ```
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
    parse_with_prefixes(text, &["!", "/"])
}

/// Parse `<prefix>name args` for any of `prefixes`.
pub(crate) fn parse_with_prefixes<S: AsRef<str>>(
    text: &str,
    prefixes: &[S],
) -> Option<ParsedCommand> {
    let text = text.trim();
    let rest = prefixes.iter().find_map(|prefix| text.strip_prefix(prefix.as_ref()))?;
    split_name(rest)
}

/// A command addressed to `bot` by a mention: `@bot name args`, `@bot: name args` or
/// `@bot !name args` (the name matched case-insensitively).
pub(crate) fn parse_mention<S: AsRef<str>>(
    text: &str,
    bot: &str,
    prefixes: &[S],
) -> Option<ParsedCommand> {
    let text = text.trim().strip_prefix('@')?;
    let head = text.get(..bot.len())?;
    if !head.eq_ignore_ascii_case(bot) {
        return None;
    }
    let rest = &text[bot.len()..];
    let rest = rest.strip_prefix([':', ',']).unwrap_or(rest);
    if !rest.starts_with(char::is_whitespace) {
        return None; // `@botanist` is not `@bot`
    }
    let rest = rest.trim_start();
    let rest =
        prefixes.iter().find_map(|prefix| rest.strip_prefix(prefix.as_ref())).unwrap_or(rest);
    split_name(rest)
}

fn split_name(rest: &str) -> Option<ParsedCommand> {
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

    #[test]
    fn mentions_and_custom_prefixes() {
        let prefixes = ["!"];
        for text in ["@Bot echo hi", "@bot: echo hi", "@bot, !echo hi", "  @bot   echo hi"] {
            let parsed = parse_mention(text, "bot", &prefixes).expect(text);
            assert_eq!((parsed.name.as_str(), parsed.args.as_str()), ("echo", "hi"), "{text}");
        }
        for text in ["@botanist echo", "bot echo", "@bot", "@bo echo"] {
            assert!(parse_mention(text, "bot", &prefixes).is_none(), "{text}");
        }
        assert!(parse_with_prefixes("/echo", &prefixes).is_none());
        assert_eq!(parse_with_prefixes("..ping", &[".."]).map(|c| c.name), Some("ping".into()));
    }
}
