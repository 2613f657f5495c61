//! The transcript scenarios against the Rust SDK (`hellocode-sdk`) and a real server on a
//! random loopback port (over WebSocket, each user behind a proxy that can cut it off).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;
use hellocode_conformance::{Scenario, Step, lacks, load_all, matches, substitute};
use hellocode_core::storage::MemoryStorage;
use hellocode_sdk::{
    Backoff, ChatId, Client, ClientConfig, Credentials, Error, Event, ProfileUpdate, Progress,
    PusherSpec, Role, Seq, WebSocketTransport,
};
use hellocode_server::{Server, Settings};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use support::canonical;
use support::proxy::Proxy;

/// How long an expected event may take.
const EVENT_WAIT: Duration = Duration::from_secs(10);
/// Every user's password unless a step gives another.
const PASSWORD: &str = "correct horse battery staple";

struct Person {
    proxy: Proxy,
    client: Option<Client>,
    events: Option<mpsc::UnboundedReceiver<Event>>,
    token: Option<String>,
}

struct Run {
    server: Server,
    people: HashMap<String, Person>,
    saved: Map<String, Value>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_the_rust_sdk() {
    let scenarios = load_all();
    assert!(scenarios.len() >= 15, "at least 15 scenarios");
    for (name, scenario) in &scenarios {
        run(name, scenario).await;
        eprintln!("scenario {name}: ok");
    }
}

async fn run(name: &str, scenario: &Scenario) {
    let mut settings = Settings::without_abuse_limits();
    if let Some(rate) = scenario.server.rate {
        settings.rate_per_second = rate;
    }
    if let Some(burst) = scenario.server.rate_burst {
        settings.rate_burst = burst;
    }
    let server = Server::start_with(
        Arc::new(MemoryStorage::new()),
        b"conformance-secret-conformance-secret",
        settings,
        "127.0.0.1:0".parse().expect("address"),
    )
    .await
    .expect("server starts");
    let mut run = Run { server, people: HashMap::new(), saved: Map::new() };
    for (index, step) in scenario.steps.iter().enumerate() {
        if let Err(error) = run.step(step).await {
            panic!(
                "scenario {name} ({}), step {index} [{}]: {error}",
                scenario.name,
                step.describe()
            );
        }
    }
    for person in run.people.values() {
        if let Some(client) = &person.client {
            client.close().await;
        }
    }
    run.server.shutdown().await;
}

impl Run {
    async fn person(&mut self, user: &str) -> &mut Person {
        if !self.people.contains_key(user) {
            let proxy = Proxy::start(self.server.local_addr()).await;
            let person = Person { proxy, client: None, events: None, token: None };
            self.people.insert(user.to_owned(), person);
        }
        self.people.get_mut(user).expect("just added")
    }

    async fn step(&mut self, step: &Step) -> Result<(), String> {
        let user = step.user.as_str();
        if let Some(how) = &step.connect {
            return self.connect(step, how).await;
        }
        if step.disconnect {
            self.person(user).await.proxy.cut().await;
            return Ok(());
        }
        if step.reconnect {
            self.person(user).await.proxy.restore();
            return Ok(());
        }
        if let Some(expected) = &step.event {
            let expected = substitute(expected, &self.saved)?;
            let kind = expected["kind"].as_str().ok_or("an event needs a kind")?.to_owned();
            let events = self.events(user).await?;
            let deadline = tokio::time::Instant::now() + EVENT_WAIT;
            loop {
                let event = tokio::time::timeout_at(deadline, events.recv())
                    .await
                    .map_err(|_| format!("no {kind} event within {EVENT_WAIT:?}"))?
                    .ok_or("events ended")?;
                let event = canonical::event(&event);
                if event["kind"] != kind.as_str() {
                    continue;
                }
                let matched = matches(&expected, &event);
                // Connection events: the attempts before the expected state are skipped.
                if matched.is_ok() || kind != "connection" {
                    return matched;
                }
            }
        }
        let call = step.call.as_deref().ok_or("no action")?;
        let args = substitute(&Value::Object(step.args.clone()), &self.saved)?;
        let client = self
            .person(user)
            .await
            .client
            .clone()
            .ok_or_else(|| format!("{user} not connected"))?;
        let outcome = call_operation(&client, call, &args).await;
        self.settle(step, outcome)
    }

    fn settle(&mut self, step: &Step, outcome: Result<Value, Error>) -> Result<(), String> {
        match (outcome, &step.error) {
            (Ok(value), None) => {
                if let Some(expected) = &step.expect {
                    matches(&substitute(expected, &self.saved)?, &value)?;
                }
                if let Some(unwanted) = &step.lacks {
                    let unwanted = substitute(&Value::Array(unwanted.clone()), &self.saved)?;
                    lacks(unwanted.as_array().map_or(&[][..], Vec::as_slice), &value)?;
                }
                if let Some(name) = &step.save {
                    self.saved.insert(name.clone(), value);
                }
                Ok(())
            }
            (Ok(value), Some(code)) => Err(format!("expected error {code}, got {value}")),
            (Err(error), Some(code)) if error.code() == code => match &step.error_says {
                Some(sentence) if !error.to_string().contains(sentence.as_str()) => {
                    Err(format!("the error does not say {sentence:?}: {error}"))
                }
                _ => Ok(()),
            },
            (Err(error), _) => Err(format!("error {} ({error})", error.code())),
        }
    }

    async fn events(&mut self, user: &str) -> Result<&mut mpsc::UnboundedReceiver<Event>, String> {
        self.person(user).await.events.as_mut().ok_or_else(|| format!("{user} not connected"))
    }

    async fn connect(&mut self, step: &Step, how: &str) -> Result<(), String> {
        let user = step.user.clone();
        let password = step.password.clone().unwrap_or_else(|| PASSWORD.to_owned());
        let email = format!("{user}@example.org");
        let saved = self.saved.clone();
        let person = self.person(&user).await;
        let credentials = match how {
            "register" => Credentials::register(&user, email, password),
            "login" => Credentials::password(&user, password),
            "register_or_login" => Credentials::register_or_login(&user, email, password),
            "token" => {
                let given = substitute(&Value::Object(step.args.clone()), &saved)?;
                let token = match given["token"].as_str() {
                    Some(token) => token.to_owned(),
                    None => person.token.clone().ok_or("no token saved yet")?,
                };
                Credentials::token(token)
            }
            other => return Err(format!("unknown way to connect: {other}")),
        };
        let mut config = ClientConfig::default();
        config.reconnect = Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            ..Backoff::default()
        };
        if let Some(settings) = &step.config {
            if let Some(size) = settings.get("send_queue").and_then(Value::as_u64) {
                config.send_queue = size as usize;
            }
            if let Some(ms) = settings.get("request_timeout_ms").and_then(Value::as_u64) {
                config.request_timeout = Duration::from_millis(ms);
            }
        }
        let transport = WebSocketTransport::new(&format!("ws://{}", person.proxy.addr))
            .map_err(|error| error.to_string())?;
        let outcome = Client::connect_with(transport, credentials, config).await;
        let client = match (outcome, &step.error) {
            (Ok(client), None) => client,
            (Ok(_), Some(code)) => return Err(format!("expected error {code}, connected")),
            (Err(error), Some(code)) if error.code() == code => return Ok(()),
            (Err(error), _) => return Err(format!("connect failed: {} ({error})", error.code())),
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        if step.listener {
            // The handle is dropped: the listener keeps running until the client closes.
            drop(client.add_listener(move |event| {
                let _ = sender.send(event);
            }));
        } else {
            let mut events = client.events();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    if sender.send(event).is_err() {
                        break;
                    }
                }
            });
        }
        person.token = client.token();
        person.client = Some(client);
        person.events = Some(receiver);
        Ok(())
    }
}

fn chat_arg(args: &Value) -> Result<ChatId, Error> {
    Ok(ChatId(int(args, "chat")?))
}

fn int(args: &Value, name: &str) -> Result<i64, Error> {
    args[name].as_i64().ok_or_else(|| Error::InvalidArgument(format!("argument {name}")))
}

fn text(args: &Value, name: &str) -> Result<String, Error> {
    args[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::InvalidArgument(format!("argument {name}")))
}

fn optional_text(args: &Value, name: &str) -> Result<Option<String>, Error> {
    if args[name].is_null() { Ok(None) } else { text(args, name).map(Some) }
}

fn role(args: &Value) -> Result<Role, Error> {
    let name = text(args, "role")?;
    Role::parse(&name).ok_or_else(|| Error::InvalidArgument(format!("no role {name}")))
}

fn names(args: &Value, name: &str) -> Result<Vec<String>, Error> {
    serde_json::from_value(args[name].clone())
        .map_err(|_| Error::InvalidArgument(format!("argument {name}")))
}

/// A file's bytes from `text` (UTF-8) or `base64`, and its length.
fn file(args: &Value) -> Result<(Vec<u8>, u64), Error> {
    let data = match args["base64"].as_str() {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|error| Error::InvalidArgument(format!("argument base64: {error}")))?,
        None => text(args, "text")?.into_bytes(),
    };
    let size = data.len() as u64;
    Ok((data, size))
}

/// The last `(done, total)` a progress callback was called with.
type LastProgress = Arc<Mutex<Option<(u64, u64)>>>;

/// A progress callback, and the last `(done, total)` it was called with.
fn progress() -> (Progress, LastProgress) {
    let last = Arc::new(Mutex::new(None));
    let seen = last.clone();
    let progress: Progress = Arc::new(move |done, total| {
        if let Ok(mut last) = seen.lock() {
            *last = Some((done, total));
        }
    });
    (progress, last)
}

/// The transfer's progress ended at `size` of `size`.
fn finished(last: &Mutex<Option<(u64, u64)>>, size: u64) -> Result<(), Error> {
    let last = last.lock().map_err(|_| Error::Protocol("progress poisoned".into()))?;
    match *last {
        Some(call) if call == (size, size) => Ok(()),
        other => {
            Err(Error::Protocol(format!("the last progress was {other:?}, not {size} of {size}")))
        }
    }
}

/// Call one SDK operation with the scenario's arguments; its result in canonical JSON.
async fn call_operation(client: &Client, call: &str, args: &Value) -> Result<Value, Error> {
    Ok(match call {
        "send" => canonical::message(&client.send(chat_arg(args)?, text(args, "text")?).await?),
        "send_with_client_id" => canonical::message(
            &client
                .send_with_client_id(chat_arg(args)?, text(args, "text")?, text(args, "client_id")?)
                .await?,
        ),
        "enqueue" => canonical::pending(&client.enqueue(chat_arg(args)?, text(args, "text")?)?),
        "enqueue_with_client_id" => canonical::pending(&client.enqueue_with_client_id(
            chat_arg(args)?,
            text(args, "text")?,
            text(args, "client_id")?,
        )?),
        "pending_sends" => {
            Value::Array(client.pending_sends().await?.iter().map(canonical::pending).collect())
        }
        "fetch_messages" => {
            let before = args["before"].as_i64().map(Seq);
            let limit = args["limit"].as_u64().map(|limit| limit as u32);
            canonical::messages(&client.fetch_messages(chat_arg(args)?, before, limit).await?)
        }
        "history" => {
            let all: Vec<Result<_, Error>> = client.history(chat_arg(args)?).collect().await;
            canonical::messages(&all.into_iter().collect::<Result<Vec<_>, _>>()?)
        }
        "history_before" => {
            let stream = client.history_before(chat_arg(args)?, Seq(int(args, "seq")?));
            let all: Vec<Result<_, Error>> = stream.collect().await;
            canonical::messages(&all.into_iter().collect::<Result<Vec<_>, _>>()?)
        }
        "create_chat" => canonical::chat(&client.create_chat(names(args, "participants")?).await?),
        "chat_with" => canonical::chat(&client.chat_with(names(args, "usernames")?).await?),
        "list_chats" => canonical::chats(&client.list_chats().await?),
        "add_participants" => canonical::chat(
            &client.add_participants(chat_arg(args)?, names(args, "usernames")?).await?,
        ),
        "create_group" => canonical::chat(
            &client.create_group(text(args, "name")?, names(args, "participants")?).await?,
        ),
        "get_chat" => canonical::chat(&client.get_chat(chat_arg(args)?).await?),
        "remove_participant" => canonical::chat(
            &client.remove_participant(chat_arg(args)?, text(args, "username")?).await?,
        ),
        "leave_chat" => client.leave_chat(chat_arg(args)?).await.map(|()| Value::Null)?,
        "set_role" => canonical::chat(
            &client.set_role(chat_arg(args)?, text(args, "username")?, role(args)?).await?,
        ),
        "update_chat" => canonical::chat(
            &client
                .update_chat(
                    chat_arg(args)?,
                    optional_text(args, "name")?,
                    optional_text(args, "topic")?,
                )
                .await?,
        ),
        "delete_chat" => client.delete_chat(chat_arg(args)?).await.map(|()| Value::Null)?,
        "find_users" => canonical::users(&client.find_users(text(args, "language")?).await?),
        "typing" => client.typing(chat_arg(args)?).await.map(|()| Value::Null)?,
        "mark_read" => {
            client.mark_read(chat_arg(args)?, Seq(int(args, "seq")?)).await.map(|()| Value::Null)?
        }
        "read_positions" => {
            let positions = client.read_positions(chat_arg(args)?).await?;
            Value::Array(
                positions.iter().map(|p| json!({"username": p.username, "seq": p.seq.0})).collect(),
            )
        }
        "edit_message" => canonical::message(
            &client
                .edit_message(chat_arg(args)?, Seq(int(args, "seq")?), text(args, "text")?)
                .await?,
        ),
        "delete_message" => client
            .delete_message(chat_arg(args)?, Seq(int(args, "seq")?))
            .await
            .map(|()| Value::Null)?,
        "ping" => json!(client.ping().await?.as_secs_f64() >= 0.0),
        "positions" => {
            let positions = client.positions().await?;
            Value::Object(
                positions
                    .into_iter()
                    .map(|(chat, seq)| (chat.0.to_string(), json!(seq.0)))
                    .collect(),
            )
        }
        "get_user" => canonical::user(&client.get_user(text(args, "username")?).await?),
        "update_profile" => {
            let mut update = ProfileUpdate::new();
            if let Some(timezone) = args["timezone"].as_str() {
                update = update.timezone(timezone);
            }
            if !args["languages"].is_null() {
                update = update.languages(names(args, "languages")?);
            }
            canonical::user(&client.update_profile(update).await?)
        }
        "languages" => {
            Value::Array(client.languages().await?.iter().map(canonical::language).collect())
        }
        "add_language" => canonical::language(&client.add_language(text(args, "name")?).await?),
        "contacts" => json!(client.contacts().await?),
        "add_contact" => json!(client.add_contact(text(args, "username")?).await?),
        "remove_contact" => json!(client.remove_contact(text(args, "username")?).await?),
        "set_pusher" => {
            let mut spec =
                PusherSpec::new(text(args, "app_id")?, text(args, "pushkey")?, text(args, "url")?);
            if let Some(name) = args["device_name"].as_str() {
                spec = spec.device_name(name);
            }
            if let Some(lang) = args["lang"].as_str() {
                spec = spec.lang(lang);
            }
            if let Some(previews) = args["previews"].as_bool() {
                spec = spec.previews(previews);
            }
            canonical::push_settings(&client.set_pusher(spec).await?)
        }
        "remove_pusher" => canonical::push_settings(
            &client.remove_pusher(text(args, "app_id")?, text(args, "pushkey")?).await?,
        ),
        "push_settings" => canonical::push_settings(&client.push_settings().await?),
        "mute_chat" => {
            let muted = args["muted"]
                .as_bool()
                .ok_or_else(|| Error::InvalidArgument("argument muted".to_owned()))?;
            canonical::push_settings(&client.mute_chat(chat_arg(args)?, muted).await?)
        }
        "create_bot_token" => {
            canonical::issued_bot_token(&client.create_bot_token(text(args, "name")?).await?)
        }
        "bot_tokens" => {
            Value::Array(client.bot_tokens().await?.iter().map(canonical::bot_token).collect())
        }
        "revoke_bot_token" => {
            client.revoke_bot_token(int(args, "id")?).await.map(|()| Value::Null)?
        }
        "invite" => {
            canonical::invitation(&client.invite(chat_arg(args)?, text(args, "username")?).await?)
        }
        "invitations" => {
            Value::Array(client.invitations().await?.iter().map(canonical::invitation).collect())
        }
        "accept_invitation" => canonical::chat(&client.accept_invitation(int(args, "id")?).await?),
        "decline_invitation" => {
            client.decline_invitation(int(args, "id")?).await.map(|()| Value::Null)?
        }
        "cancel_invitation" => {
            client.cancel_invitation(int(args, "id")?).await.map(|()| Value::Null)?
        }
        "create_invite_link" => {
            let expires_in = args["expires_in"].as_u64().map(Duration::from_secs);
            let max_uses = args["max_uses"].as_u64().map(|uses| uses as u32);
            let issued = client.create_invite_link(chat_arg(args)?, expires_in, max_uses).await?;
            canonical::issued_invite_link(&issued)
        }
        "invite_links" => Value::Array(
            client
                .invite_links(chat_arg(args)?)
                .await?
                .iter()
                .map(canonical::invite_link)
                .collect(),
        ),
        "revoke_invite_link" => client
            .revoke_invite_link(chat_arg(args)?, int(args, "link")?)
            .await
            .map(|()| Value::Null)?,
        "join_by_link" => canonical::chat(&client.join_by_link(text(args, "token")?).await?),
        "upload_attachment" => {
            let (data, size) = file(args)?;
            let (progress, done) = progress();
            let name = text(args, "name")?;
            let file =
                client.upload_attachment(chat_arg(args)?, name, data, Some(progress)).await?;
            finished(&done, size)?;
            canonical::attachment(&file)
        }
        "upload_avatar" => {
            let (data, size) = file(args)?;
            let (progress, done) = progress();
            let avatar = client.upload_avatar(text(args, "name")?, data, Some(progress)).await?;
            finished(&done, size)?;
            canonical::attachment(&avatar)
        }
        "download" | "download_thumbnail" => {
            let media = text(args, "media")?;
            let (progress, done) = progress();
            let download = if call == "download" {
                client.download(media, Some(progress)).await?
            } else {
                client.download_thumbnail(media, Some(progress)).await?
            };
            finished(&done, download.data.len() as u64)?;
            canonical::download(&download)
        }
        "send_with_attachments" => canonical::message(
            &client
                .send_with_attachments(
                    chat_arg(args)?,
                    text(args, "text")?,
                    names(args, "attachments")?,
                )
                .await?,
        ),
        "close" => {
            client.close().await;
            Value::Null
        }
        "username" => json!(client.username()),
        "token" => json!(client.token().is_some()),
        "state" => canonical::state(&client.state()),
        other => return Err(Error::InvalidArgument(format!("no operation {other}"))),
    })
}
