//! Profiles, languages, contacts, bot tokens and register-or-login, over both transports.

use hellocode_sdk::{Client, ClientConfig, Credentials, Error, ProfileUpdate};

use crate::harness::{Kind, TestServer, fast_config, on_transports};

on_transports!(
    profiles_languages_and_contacts,
    bot_tokens_act_as_their_owner_until_revoked,
    register_or_login_registers_once,
);

fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    result.expect_err("the server refuses").code()
}

async fn profiles_languages_and_contacts(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    server.register(kind, "bob").await.close().await;

    let gleam = alice.add_language(" Gleam ").await.expect("added");
    assert_eq!(gleam.name, "Gleam");
    assert_eq!(alice.add_language("Gleam").await.expect("existing"), gleam);
    for name in ["Rust", "Go"] {
        alice.add_language(name).await.expect("added or existing");
    }
    let listed = alice.languages().await.expect("listed");
    assert!(listed.contains(&gleam));
    assert_eq!(listed, server.storage.languages().await.expect("stored"), "all, by name");
    assert_eq!(code(alice.add_language("   ").await), "invalid_field");

    let me = alice
        .update_profile(ProfileUpdate::new().timezone("Europe/Paris").languages(["Rust", "Go"]))
        .await
        .expect("updated");
    assert_eq!(
        (me.timezone.as_str(), me.languages.as_slice()),
        ("Europe/Paris", &["Go".to_owned(), "Rust".to_owned()][..])
    );
    let me = alice.update_profile(ProfileUpdate::new().timezone("UTC")).await.expect("updated");
    assert_eq!(me.languages, ["Go", "Rust"], "languages left out stay");
    let stored = server.storage.user("alice").await.expect("read").expect("exists");
    assert_eq!(stored, me);
    assert_eq!(
        code(alice.update_profile(ProfileUpdate::new().languages(["Cobol"])).await),
        "not_found"
    );

    let bob = alice.get_user("bob").await.expect("bob");
    assert_eq!(bob.username, "bob");
    assert_eq!(alice.get_user("alice").await.expect("me"), me);
    assert_eq!(code(alice.get_user("nobody").await), "not_found");

    assert!(alice.contacts().await.expect("none yet").is_empty());
    assert_eq!(alice.add_contact("bob").await.expect("added"), ["bob"]);
    assert_eq!(alice.add_contact("bob").await.expect("again"), ["bob"]);
    assert_eq!(code(alice.add_contact("nobody").await), "not_found");
    assert_eq!(alice.contacts().await.expect("listed"), ["bob"]);
    assert!(alice.remove_contact("bob").await.expect("removed").is_empty());
    alice.close().await;
    server.stop().await;
}

async fn bot_tokens_act_as_their_owner_until_revoked(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let mallory = server.register(kind, "mallory").await;

    let issued = alice.create_bot_token(" echo ").await.expect("issued");
    assert_eq!(issued.name, "echo");
    assert!(!format!("{issued:?}").contains(&issued.token), "Debug hides the token");
    assert_eq!(code(alice.create_bot_token("").await), "invalid_field");

    let bot =
        server.connect_with(kind, Credentials::token(issued.token.clone()), fast_config()).await;
    assert_eq!(bot.username(), "alice");
    let listed = alice.bot_tokens().await.expect("listed");
    assert_eq!(listed.iter().map(|t| (t.id, t.revoked)).collect::<Vec<_>>(), [(issued.id, false)]);
    assert!(mallory.bot_tokens().await.expect("listed").is_empty());

    // Someone else's token, or one that does not exist: not_found.
    assert_eq!(code(mallory.revoke_bot_token(issued.id).await), "not_found");
    assert_eq!(code(alice.revoke_bot_token(issued.id + 1000).await), "not_found");
    alice.revoke_bot_token(issued.id).await.expect("revoked");
    assert!(alice.bot_tokens().await.expect("listed")[0].revoked);
    let refused = Client::connect_with(
        server.transport(kind),
        Credentials::token(issued.token),
        ClientConfig::default(),
    )
    .await
    .expect_err("a revoked token is refused");
    assert_eq!(refused.code(), "invalid_token");
    for client in [alice, mallory, bot] {
        client.close().await;
    }
    server.stop().await;
}

async fn register_or_login_registers_once(kind: Kind) {
    let server = TestServer::start().await;
    let password = "a long and private bot password";
    let first = server
        .connect_with(
            kind,
            Credentials::register_or_login("robot", "robot@example.org", password),
            fast_config(),
        )
        .await;
    assert_eq!(first.username(), "robot");
    let registered = server.storage.user("robot").await.expect("read").expect("registered");
    first.close().await;

    // Again: the account exists, so it logs in (another email changes nothing).
    let second = server
        .connect_with(
            kind,
            Credentials::register_or_login("robot", "other@example.org", password),
            fast_config(),
        )
        .await;
    assert_eq!(second.username(), "robot");
    assert!(second.token().is_some());
    let account = server.storage.account("robot").await.expect("read").expect("one account");
    assert_eq!((account.user, account.email.as_str()), (registered, "robot@example.org"));

    // Another password: refused as a wrong login, and nothing registered.
    let wrong = Client::connect_with(
        server.transport(kind),
        Credentials::register_or_login("robot", "robot@example.org", "an entirely other password"),
        ClientConfig::default(),
    )
    .await
    .expect_err("wrong password");
    assert_eq!(wrong.code(), "invalid_credentials");
    let users = server.storage.users(None, 100).await.expect("users");
    assert_eq!(users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["robot"]);
    second.close().await;
    server.stop().await;
}
