//! API parity: every public operation of the Rust `Client` is in the scenarios' operation list,
//! is exercised by a scenario, and exists in every binding (Python's async and blocking
//! clients, the uniffi `Client` of Kotlin and Swift, the web client's `Client` in camelCase, and
//! the web runner's operations). Adding an SDK method without the rest fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hellocode_conformance::{
    OPERATIONS, covered, expected_errors, load_all, rust_client_operations,
};

/// Operations every runner exercises by connecting, not through a `call` step.
const BY_CONNECTING: &[&str] = &["events", "add_listener"];

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn wanted() -> BTreeSet<String> {
    OPERATIONS.iter().chain(BY_CONNECTING).map(|name| (*name).to_owned()).collect()
}

/// Operations Python spells as a keyword argument of another method, as Python APIs do:
/// (operation, method, keyword).
const PYTHON_KEYWORD_FORMS: &[(&str, &str, &str)] =
    &[("send_with_client_id", "send", "client_id"), ("history_before", "history", "before")];

/// The names a Python `class <name>` defines (methods and properties) with the line declaring
/// each, from its source or stub.
fn python_class_members(source: &str, class: &str) -> BTreeMap<String, String> {
    let header = format!("class {class}");
    let mut members = BTreeMap::new();
    let mut inside = false;
    for line in source.lines() {
        if line.starts_with("class ") {
            inside = line.starts_with(&header) && line[header.len()..].starts_with([':', '(']);
            continue;
        }
        if !inside {
            continue;
        }
        let trimmed = line.trim_start();
        let rest = trimmed.strip_prefix("async def ").or_else(|| trimmed.strip_prefix("def "));
        if let Some(rest) = rest {
            let name = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            members.insert(name, trimmed.to_owned());
        }
    }
    members
}

#[test]
fn the_operation_list_is_the_rust_clients() {
    let mut sources = read("hellocode-sdk/src/client.rs");
    let dir = root().join("hellocode-sdk/src/client");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("client modules")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    for file in files {
        sources.push('\n');
        sources.push_str(&std::fs::read_to_string(file).expect("client module"));
    }
    let rust = rust_client_operations(&sources);
    let wanted = wanted();
    let missing: Vec<_> = rust.difference(&wanted).collect();
    let stale: Vec<_> = wanted.difference(&rust).collect();
    assert!(
        missing.is_empty(),
        "Client operations missing from hellocode_conformance::OPERATIONS: {missing:?}"
    );
    assert!(stale.is_empty(), "OPERATIONS names what Client does not have: {stale:?}");
}

#[test]
fn every_operation_and_way_to_connect_is_exercised_by_a_scenario() {
    let scenarios = load_all();
    assert!(scenarios.len() >= 15, "at least 15 scenarios, found {}", scenarios.len());
    let covered = covered(&scenarios);
    let mut required = wanted();
    for how in ["register", "login", "token", "register_or_login"] {
        required.insert(format!("connect:{how}"));
    }
    let missing: Vec<_> = required.difference(&covered).collect();
    assert!(missing.is_empty(), "no scenario exercises {missing:?}");
}

#[test]
fn every_error_class_is_exercised_by_a_scenario() {
    let errors = expected_errors(&load_all());
    // One code or more per error class of the bindings (auth, not allowed, not found, invalid
    // input, queue full, timeout, closed). `rate_limited` and `connection_lost` are not
    // reachable deterministically from a transcript (the SDK retries rate-limited commands and
    // resends what is safe to resend); the SDK's own tests cover them.
    for code in [
        "invalid_credentials",
        "username_taken",
        "validation_failed",
        "invalid_token",
        "forbidden",
        "not_found",
        "invalid_argument",
        "invalid_field",
        "queue_full",
        "timeout",
        "closed",
    ] {
        assert!(errors.contains(code), "no scenario expects the error {code}");
    }
}

#[test]
fn the_python_clients_have_every_operation() {
    let stub = read("bindings/python/python/hellocode/_hellocode.pyi");
    // `hellocode.blocking.Client` is the extension's `BlockingClient`, re-exported.
    let blocking = read("bindings/python/python/hellocode/blocking.py");
    assert!(
        blocking.contains("import BlockingClient as Client"),
        "blocking.Client is BlockingClient"
    );
    for (what, members) in [
        ("hellocode.Client", python_class_members(&stub, "Client")),
        ("hellocode.blocking.Client", python_class_members(&stub, "BlockingClient")),
    ] {
        let has = |op: &str| {
            members.contains_key(op)
                || PYTHON_KEYWORD_FORMS.iter().any(|(form, method, keyword)| {
                    *form == op
                        && members
                            .get(*method)
                            .is_some_and(|line| line.contains(&format!("{keyword}:")))
                })
        };
        let missing: Vec<_> = wanted().into_iter().filter(|op| !has(op)).collect();
        assert!(missing.is_empty(), "{what} lacks {missing:?}");
    }
}

#[test]
fn python_class_members_reads_methods_and_properties() {
    let source = "class Client:\n    @property\n    def username(self) -> str: ...\n    async def send(self) -> None: ...\nclass ClientX:\n    def nope(self): ...\n";
    let members: Vec<String> = python_class_members(source, "Client").into_keys().collect();
    assert_eq!(members, ["send", "username"]);
}

/// Operations the uniffi bindings export under another name, as (operation, exported name):
/// Kotlin objects already have a `close()` (it releases the handle), so the SDK's `close` is
/// `shutdown` there.
const UNIFFI_RENAMES: &[(&str, &str)] = &[("close", "shutdown")];

/// The methods of every `#[uniffi::export]`ed `impl <object> {` block in a uniffi crate's
/// source: what the generated Kotlin and Swift classes have (an `impl` block without the
/// attribute exports nothing, so it does not count).
fn uniffi_exported_methods(source: &str, object: &str) -> BTreeSet<String> {
    let header = format!("impl {object} {{");
    let mut methods = BTreeSet::new();
    let mut exported = false;
    let mut inside = false;
    for line in source.lines() {
        if inside {
            if line == "}" {
                inside = false;
                continue;
            }
            let trimmed = line.trim_start();
            let rest =
                trimmed.strip_prefix("pub fn ").or_else(|| trimmed.strip_prefix("pub async fn "));
            if let Some(rest) = rest {
                methods.insert(
                    rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect(),
                );
            }
        } else if line == header {
            inside = exported;
        }
        if !line.trim().is_empty() {
            exported = line.starts_with("#[uniffi::export");
        }
    }
    methods
}

#[test]
fn the_uniffi_client_exports_every_operation() {
    let source = read("bindings/uniffi/src/client.rs");
    let methods = uniffi_exported_methods(&source, "Client");
    let exported = |op: &str| {
        let name = UNIFFI_RENAMES.iter().find(|(from, _)| *from == op).map_or(op, |(_, to)| to);
        methods.contains(name)
    };
    let missing: Vec<_> = wanted().into_iter().filter(|op| !exported(op)).collect();
    assert!(
        missing.is_empty(),
        "the uniffi Client (bindings/uniffi/src/client.rs) does not export {missing:?}"
    );
    assert!(source.contains("#[uniffi::export]\npub async fn connect("), "no exported connect");
}

#[test]
fn uniffi_exported_methods_needs_the_attribute() {
    let source = "#[uniffi::export]\nimpl Client {\n    pub fn send(&self) {}\n    pub async fn ping(&self) {}\n    fn private(&self) {}\n}\n\nimpl Client {\n    pub fn hidden(&self) {}\n}\n";
    let methods: Vec<String> = uniffi_exported_methods(source, "Client").into_iter().collect();
    assert_eq!(methods, ["ping", "send"]);
}

/// An operation's name in JavaScript: camelCase (`send_with_client_id` is `sendWithClientId`).
fn camel_case(snake: &str) -> String {
    let mut words = snake.split('_');
    let mut name = words.next().unwrap_or_default().to_owned();
    for word in words {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

/// The methods and getters of `export class <class> {` in a JavaScript source: the lines at
/// two spaces of indentation inside it that open a member (`name(`, `async name(`,
/// `async *name(`, `get name(`, `static async name(`).
fn js_class_members(source: &str, class: &str) -> BTreeSet<String> {
    let header = format!("export class {class} {{");
    let mut members = BTreeSet::new();
    let mut inside = false;
    for line in source.lines() {
        if !inside {
            inside = line == header;
            continue;
        }
        if line == "}" {
            break;
        }
        let Some(rest) = line.strip_prefix("  ") else { continue };
        if rest.starts_with(' ') {
            continue;
        }
        let mut rest = rest;
        for prefix in ["static ", "async ", "*", "get "] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && rest[name.len()..].starts_with('(') {
            members.insert(name);
        }
    }
    members
}

#[test]
fn the_web_client_has_every_operation() {
    let source = read("bindings/web/src/client.js");
    let members = js_class_members(&source, "Client");
    assert!(members.contains("connect"), "the web Client has no connect");
    let missing: Vec<_> =
        wanted().into_iter().filter(|op| !members.contains(&camel_case(op))).collect();
    assert!(
        missing.is_empty(),
        "the web Client (bindings/web/src/client.js) lacks {:?}",
        missing.iter().map(|op| camel_case(op)).collect::<Vec<_>>()
    );
}

#[test]
fn the_web_runner_knows_every_operation() {
    let runner = read("bindings/web/tests/conformance.test.js");
    let missing: Vec<_> =
        OPERATIONS.iter().filter(|op| !runner.contains(&format!("case '{op}':"))).collect();
    assert!(
        missing.is_empty(),
        "bindings/web/tests/conformance.test.js has no case for {missing:?}"
    );
    for (op, call) in [("events", "client.events()"), ("add_listener", "client.addListener(")] {
        assert!(runner.contains(call), "the web runner never uses {op} ({call})");
    }
}

#[test]
fn js_class_members_reads_methods_and_getters() {
    let source = "export class Client {\n  /** @private */\n  constructor(session) {\n    this.x = f(1);\n  }\n  static async connect(options) {}\n  get username() {}\n  async *history(chat) {}\n  send(chat) {}\n}\nexport class Other {\n  nope() {}\n}\n";
    let members: Vec<String> = js_class_members(source, "Client").into_iter().collect();
    assert_eq!(members, ["connect", "constructor", "history", "send", "username"]);
    assert_eq!(camel_case("send_with_client_id"), "sendWithClientId");
    assert_eq!(camel_case("ping"), "ping");
}
