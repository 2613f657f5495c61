//! A structured HTTP request for the `rest_bodies` target: a method, a path that is mostly one of
//! the server's routes with arbitrary segments, a query, an `Authorization` header, other headers,
//! and a body that is mostly JSON with the routes' field names.

use arbitrary::Arbitrary;
use serde_json::{Map, Value};

/// What the harness knows of its world, to fill in real names and ids.
#[derive(Debug, Clone)]
pub struct Known {
    /// Usernames of the accounts the harness registered.
    pub users: Vec<String>,
    /// Ids of chats that exist.
    pub chats: Vec<i64>,
}

/// One request.
#[derive(Debug, Arbitrary)]
pub struct Request {
    method: Method,
    path: Path,
    query: Vec<(Key, Text)>,
    /// Which account's token, if any (see the harness).
    pub auth: Auth,
    headers: Vec<(HeaderName, Text)>,
    body: Body,
}

#[derive(Debug, Arbitrary)]
enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    Other(String),
}

/// The `Authorization` header to send.
#[derive(Debug, Arbitrary)]
pub enum Auth {
    /// None.
    None,
    /// `Bearer <token of user n>`.
    User(u8),
    /// `<scheme> <token of user n>`.
    Scheme(String, u8),
    /// Any value.
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Path {
    Route { route: Route, first: Segment, second: Segment, slash: bool },
    Raw(String),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Route {
    Register,
    Login,
    Users,
    User,
    Contacts,
    Contact,
    BotTokens,
    BotToken,
    Languages,
    LanguageUsers,
    Chats,
    ChatCreate,
    Chat,
    ChatUpdate,
    ChatDelete,
    ChatMessages,
    ChatLeave,
    ChatMembers,
    ChatMember,
    ChatMemberRole,
    ChatInvitations,
    ChatLinks,
    ChatLink,
    Invitations,
    Invitation,
    InvitationAccept,
    InvitationDecline,
    Join,
    Healthz,
    Metrics,
    Ws,
    WsChat,
}

#[derive(Debug, Arbitrary)]
enum Segment {
    User(u8),
    Chat(u8),
    Number(i64),
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum HeaderName {
    ContentType,
    Accept,
    Known(u8),
    Other(String),
}

/// Field names of the routes' bodies and queries.
const KEYS: &[&str] = &[
    "username",
    "email",
    "password",
    "password_confirmation",
    "participants",
    "message",
    "clientId",
    "name",
    "timezone",
    "languages",
    "avatar",
    "after",
    "limit",
    "before",
    "token",
    "from",
    "usernames",
    "role",
    "topic",
    "expiresIn",
    "maxUses",
];

#[derive(Debug, Arbitrary)]
enum Key {
    Known(u8),
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Text {
    User(u8),
    Chat(u8),
    /// `owner`, `admin`, `member`.
    Role(u8),
    Password,
    Email,
    Nul,
    Long(u16),
    Number(i64),
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum Body {
    Empty,
    Json(Json),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Text),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
}

/// Nesting kept well below serde_json's recursion limit: a deeper body is not more interesting.
const MAX_DEPTH: usize = 16;

impl Request {
    /// The method, as sent.
    pub fn method(&self) -> String {
        match &self.method {
            Method::Get => "GET".into(),
            Method::Post => "POST".into(),
            Method::Put => "PUT".into(),
            Method::Patch => "PATCH".into(),
            Method::Delete => "DELETE".into(),
            Method::Head => "HEAD".into(),
            Method::Options => "OPTIONS".into(),
            Method::Other(m) => m.clone(),
        }
    }

    /// Path and query, percent-encoded.
    pub fn uri(&self, known: &Known) -> String {
        let mut uri = match &self.path {
            Path::Route { route, first, second, slash } => {
                let a = first.render(known);
                let b = second.render(known);
                let path = match route {
                    Route::Register => "/api/register".to_owned(),
                    Route::Login => "/api/login".to_owned(),
                    Route::Users => "/api/users".to_owned(),
                    Route::User => format!("/api/users/{a}"),
                    Route::Contacts => format!("/api/users/{a}/contacts"),
                    Route::Contact => format!("/api/users/{a}/contacts/{b}"),
                    Route::BotTokens => "/api/bot-tokens".to_owned(),
                    Route::BotToken => format!("/api/bot-tokens/{a}"),
                    Route::Languages => "/api/languages".to_owned(),
                    Route::LanguageUsers => format!("/api/languages/{a}/users"),
                    Route::Chats => "/api/chat".to_owned(),
                    Route::ChatCreate => "/api/chat/create".to_owned(),
                    Route::Chat => format!("/api/chat/{a}"),
                    Route::ChatUpdate => format!("/api/chat/{a}/update"),
                    Route::ChatDelete => format!("/api/chat/{a}/delete"),
                    Route::ChatMessages => format!("/api/chat/{a}/messages"),
                    Route::ChatLeave => format!("/api/chat/{a}/leave"),
                    Route::ChatMembers => format!("/api/chat/{a}/members"),
                    Route::ChatMember => format!("/api/chat/{a}/members/{b}"),
                    Route::ChatMemberRole => format!("/api/chat/{a}/members/{b}/role"),
                    Route::ChatInvitations => format!("/api/chat/{a}/invitations"),
                    Route::ChatLinks => format!("/api/chat/{a}/links"),
                    Route::ChatLink => format!("/api/chat/{a}/links/{b}"),
                    Route::Invitations => "/api/invitations".to_owned(),
                    Route::Invitation => format!("/api/invitations/{a}"),
                    Route::InvitationAccept => format!("/api/invitations/{a}/accept"),
                    Route::InvitationDecline => format!("/api/invitations/{a}/decline"),
                    Route::Join => "/api/join".to_owned(),
                    Route::Healthz => "/healthz".to_owned(),
                    Route::Metrics => "/metrics".to_owned(),
                    Route::Ws => "/ws".to_owned(),
                    Route::WsChat => format!("/ws/chat/{a}"),
                };
                if *slash { path + "/" } else { path }
            }
            Path::Raw(raw) => format!("/{}", encode(raw, "/")),
        };
        for (i, (key, value)) in self.query.iter().take(4).enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(&encode(&key.render(), ""));
            uri.push('=');
            uri.push_str(&encode(&value.render(known), ""));
        }
        uri
    }

    /// Extra headers: name and value bytes.
    pub fn headers(&self, known: &Known) -> Vec<(String, Vec<u8>)> {
        const NAMES: &[&str] = &[
            "origin",
            "cookie",
            "accept-encoding",
            "x-forwarded-for",
            "user-agent",
            "range",
            "idempotency-key",
        ];
        self.headers
            .iter()
            .take(4)
            .map(|(name, value)| {
                let name = match name {
                    HeaderName::ContentType => "content-type".to_owned(),
                    HeaderName::Accept => "accept".to_owned(),
                    HeaderName::Known(i) => NAMES[usize::from(*i) % NAMES.len()].to_owned(),
                    HeaderName::Other(name) => name.to_ascii_lowercase(),
                };
                (name, value.render(known).into_bytes())
            })
            .collect()
    }

    /// The body bytes.
    pub fn body(&self, known: &Known) -> Vec<u8> {
        match &self.body {
            Body::Empty => Vec::new(),
            Body::Json(json) => json.to_value(known, 0).to_string().into_bytes(),
            Body::Raw(bytes) => bytes.clone(),
        }
    }
}

impl Segment {
    fn render(&self, known: &Known) -> String {
        match self {
            Segment::User(i) => pick(&known.users, *i).unwrap_or_default(),
            Segment::Chat(i) => pick(&known.chats, *i).unwrap_or(1).to_string(),
            Segment::Number(n) => n.to_string(),
            Segment::Text(text) => encode(text, ""),
        }
    }
}

impl Key {
    fn render(&self) -> String {
        match self {
            Key::Known(i) => KEYS[usize::from(*i) % KEYS.len()].to_owned(),
            Key::Other(key) => key.clone(),
        }
    }
}

impl Text {
    fn render(&self, known: &Known) -> String {
        match self {
            Text::User(i) => pick(&known.users, *i).unwrap_or_default(),
            Text::Chat(i) => pick(&known.chats, *i).unwrap_or(1).to_string(),
            Text::Role(i) => ["owner", "admin", "member"][usize::from(*i) % 3].to_owned(),
            Text::Password => "correct horse battery".to_owned(),
            Text::Email => "someone@example.org".to_owned(),
            Text::Nul => "a\u{0}b".to_owned(),
            Text::Long(n) => "x".repeat(usize::from(*n) % 20_000),
            Text::Number(n) => n.to_string(),
            Text::Any(text) => text.clone(),
        }
    }
}

impl Json {
    fn to_value(&self, known: &Known, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(n) => Value::from(*n),
            Json::Float(f) => Value::from(*f),
            // Chat ids go as numbers, as clients send them.
            Json::Text(Text::Chat(i)) => Value::from(pick(&known.chats, *i).unwrap_or(1)),
            Json::Text(text) => Value::String(text.render(known)),
            Json::Array(items) => {
                Value::Array(items.iter().map(|item| item.to_value(known, depth + 1)).collect())
            }
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.render(), value.to_value(known, depth + 1)))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }
}

fn pick<T: Clone>(items: &[T], index: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[usize::from(index) % items.len()].clone())
}

/// Percent-encode everything but unreserved characters and those in `keep`.
fn encode(text: &str, keep: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || b"-._~".contains(&byte)
            || keep.as_bytes().contains(&byte)
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
