//! The generated `!help` and `!help <command>`.

use super::command::Command;

/// `!help`: one line per command, with its usage and description.
pub(crate) fn overview(commands: &[Command], prefix: &str) -> String {
    if commands.is_empty() {
        return "I have no commands.".to_owned();
    }
    let mut text = String::from("Commands:");
    for command in commands {
        text.push_str("\n  ");
        text.push_str(&command.usage_with(prefix));
        if !command.description.is_empty() {
            text.push_str(" — ");
            text.push_str(&command.description);
        }
    }
    text.push_str(&format!("\n{prefix}help <command> tells more about one."));
    text
}

/// `!help <name>`: the command's usage, description and aliases.
pub(crate) fn about(command: Option<&Command>, asked: &str, prefix: &str) -> String {
    let Some(command) = command else {
        return format!("I have no command {prefix}{asked}. Try {prefix}help.");
    };
    let mut text = format!("Usage: {}", command.usage_with(prefix));
    if !command.description.is_empty() {
        text.push('\n');
        text.push_str(&command.description);
    }
    if !command.aliases.is_empty() {
        let aliases: Vec<String> =
            command.aliases.iter().map(|alias| format!("{prefix}{alias}")).collect();
        text.push_str(&format!("\nAlso: {}", aliases.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot::{Context, Rest};

    #[test]
    fn overview_and_details() {
        let commands = vec![
            Command::new("echo", |_: Context, text: Rest| async move { text.0 })
                .description("Repeat your text")
                .alias("say"),
            Command::new("ping", |_: Context| async { "pong" }),
        ];
        assert_eq!(
            overview(&commands, "!"),
            "Commands:\n  !echo <text...> — Repeat your text\n  !ping\n!help <command> tells more about one."
        );
        assert_eq!(
            about(commands.first(), "echo", "!"),
            "Usage: !echo <text...>\nRepeat your text\nAlso: !say"
        );
        assert_eq!(about(None, "nope", "!"), "I have no command !nope. Try !help.");
        assert_eq!(overview(&[], "!"), "I have no commands.");
    }
}
