//! Run with: cargo run --example chat -- --user alice --with bob
//!
//! A terminal chat client. Lines you type go to the current chat; commands:
//! `/chats` lists your chats, `/join <id>` switches, `/new <user>...` starts a chat,
//! `/history` shows the last messages, `/languages rust go` sets the languages you want to talk
//! about (so the matchmaker finds you), `/invitations` lists the groups you are invited to,
//! `/accept <id>` and `/decline <id>` answer an invitation, `/quit` (or end of input) leaves
//! after your queued messages are sent. The connection comes back by itself if it drops;
//! nothing is missed.

use std::io::IsTerminal;

use anyhow::Context as _;
use clap::Parser;
use hellocode_examples::{ConnectArgs, init_logging};
use hellocode_sdk::{
    ChatId, Client, ConnectionState, Event, EventKind, Invitation, InvitationState, ProfileUpdate,
    SendState,
};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Open the chat with these users (created if there is none).
    #[arg(long, num_args = 1..)]
    with: Vec<String>,
    /// Open this chat.
    #[arg(long, conflicts_with = "with")]
    chat: Option<i64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let mut args = Args::parse();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    if args.connect.token.is_none() && args.connect.password.is_none() {
        let user = args.connect.user.as_deref().context("give --user (or --token)")?;
        let prompt = format!("password for {user}: ");
        args.connect.password = if std::io::stdin().is_terminal() {
            // Typed at a terminal: do not echo it.
            Some(tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt)).await??)
        } else {
            eprint!("{prompt}");
            lines.next_line().await?
        };
    }
    let client = args.connect.connect().await?;
    let mut current = open_chat(&client, &args).await?;
    match current {
        Some(chat) => println!("connected as {}; chat {chat}", client.username()),
        None => println!("connected as {}; no chat yet: /new <user>", client.username()),
    }
    tokio::spawn(print_events(client.clone()));

    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        let mut words = line.split_whitespace();
        match words.next() {
            None => {}
            Some("/quit") => break,
            Some("/chats") => {
                for chat in client.list_chats().await? {
                    let names: Vec<_> = chat.participants.iter().map(|p| &p.username).collect();
                    println!("  chat {} with {names:?}, {} items", chat.id, chat.last_seq);
                }
            }
            Some("/join") => match words.next().and_then(|id| id.parse().ok()) {
                Some(id) => current = Some(ChatId(id)),
                None => println!("usage: /join <chat id>"),
            },
            Some("/new") => {
                let chat = client.create_chat(words.map(str::to_owned).collect()).await?;
                println!("created chat {}", chat.id);
                current = Some(chat.id);
            }
            Some("/languages") => {
                let mut languages = Vec::new();
                for name in words {
                    // Known languages keep their spelling; new ones are added.
                    languages.push(client.add_language(name).await?.name);
                }
                let profile =
                    client.update_profile(ProfileUpdate::new().languages(languages)).await?;
                println!("you want to talk about: {}", profile.languages.join(", "));
            }
            Some("/invitations") => {
                for invitation in client.invitations().await? {
                    println!("  {}", describe(&invitation));
                }
            }
            Some(answer @ ("/accept" | "/decline")) => {
                match words.next().and_then(|id| id.parse().ok()) {
                    Some(id) if answer == "/accept" => {
                        let chat = client.accept_invitation(id).await?;
                        println!("joined chat {}", chat.id);
                        current = Some(chat.id);
                    }
                    Some(id) => {
                        client.decline_invitation(id).await?;
                        println!("declined invitation {id}");
                    }
                    None => println!("usage: {answer} <invitation id>"),
                }
            }
            Some("/history") => match current {
                Some(chat) => {
                    for message in client.fetch_messages(chat, None, Some(20)).await?.iter().rev() {
                        println!("  #{} {}: {}", message.seq, message.author, message.content);
                    }
                }
                None => println!("no chat yet: /new <user>"),
            },
            Some(_) => match current {
                Some(chat) => {
                    client.enqueue(chat, line)?;
                }
                None => println!("no chat yet: /new <user>"),
            },
        }
    }
    client.close().await;
    println!("bye");
    Ok(())
}

/// The chat named on the command line, or the user's first chat.
async fn open_chat(client: &Client, args: &Args) -> anyhow::Result<Option<ChatId>> {
    if let Some(id) = args.chat {
        return Ok(Some(ChatId(id)));
    }
    if args.with.is_empty() {
        return Ok(client.list_chats().await?.first().map(|chat| chat.id));
    }
    Ok(Some(client.chat_with(args.with.clone()).await?.id))
}

async fn print_events(client: Client) {
    let mut events = client.events();
    while let Some(event) = events.recv().await {
        match event {
            Event::Message(message) => {
                println!("[chat {}] {}: {}", message.chat_id, message.author, message.content)
            }
            Event::Send(update) => {
                if let SendState::Failed(error) = update.state {
                    println!("(not sent to chat {}: {error})", update.chat_id);
                }
            }
            Event::Presence { username, online } => {
                println!("({username} is {})", if online { "online" } else { "offline" })
            }
            Event::Online { usernames } if !usernames.is_empty() => {
                println!("(online: {})", usernames.join(", "))
            }
            Event::ChatCreated(chat) => println!("(you were added to chat {})", chat.id),
            Event::ChatEvent(event) => {
                let (chat, who, member) =
                    (event.chat_id, &event.author, event.member.as_deref().unwrap_or(""));
                match event.kind {
                    EventKind::Edit => println!("[chat {chat}] ({who} edited: {})", event.content),
                    EventKind::Delete => println!("[chat {chat}] ({who} deleted a message)"),
                    EventKind::Join => println!("[chat {chat}] ({who} added {member})"),
                    EventKind::Leave => println!("[chat {chat}] ({member} left)"),
                    EventKind::Remove => println!("[chat {chat}] ({who} removed {member})"),
                    EventKind::Role => {
                        let role = event.role.map_or("?", |role| role.as_str());
                        println!("[chat {chat}] ({member} is now {role})")
                    }
                    EventKind::Rename => {
                        println!("[chat {chat}] ({who} renamed it {:?})", event.content)
                    }
                    EventKind::Topic => {
                        println!("[chat {chat}] ({who} set the topic {:?})", event.content)
                    }
                    _ => {}
                }
            }
            Event::ChatDeleted { chat_id, by } => println!("(chat {chat_id} was deleted by {by})"),
            Event::Invitation(invitation) => match invitation.state {
                InvitationState::Cancelled => {
                    println!("(invitation {} was withdrawn)", invitation.id)
                }
                _ => println!("({})", describe(&invitation)),
            },
            Event::Connection(ConnectionState::Reconnecting { delay, error, .. }) => {
                println!("(connection lost: {error}; retrying in {delay:?})")
            }
            Event::Connection(ConnectionState::Connected { .. }) => println!("(connected)"),
            _ => {}
        }
    }
}

/// An invitation in one line, with how to answer it.
fn describe(invitation: &Invitation) -> String {
    let name = invitation.name.as_deref().unwrap_or("a group");
    format!(
        "{} invites you to {name:?} (chat {}): /accept {id} or /decline {id}",
        invitation.inviter,
        invitation.chat_id,
        id = invitation.id
    )
}
