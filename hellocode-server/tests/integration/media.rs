//! Avatars and attachments over HTTP: upload, download with the right headers and ranges,
//! who may read what, metadata stripped, and every bad upload refused with nothing stored.

use std::io::Cursor;

use hellocode_server::creation::CreationLimits;
use image::{ImageEncoder, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};

use crate::harness::{Backend, Fetched, TestServer, chat_among, test_settings};

on_backends!(media:
    an_avatar_is_uploaded_reencoded_and_readable_by_anyone_signed_in,
    attachments_are_readable_by_the_chats_members_only_and_lose_their_metadata,
    bad_uploads_are_refused_and_nothing_is_stored,
    a_message_carries_attachments_of_its_chat,
);

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_pixel(width, height, Rgb([10, 120, 200]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).expect("png");
    out.into_inner()
}

/// A JPEG photo with EXIF that carries GPS coordinates (as a phone writes them).
fn jpeg_with_gps() -> Vec<u8> {
    // A little-endian TIFF header, an IFD with one entry (GPSInfo, tag 0x8825), and the
    // coordinates' text the test looks for afterwards.
    let mut exif = b"II\x2a\x00\x08\x00\x00\x00\x01\x00\x25\x88\x04\x00\x01\x00\x00\x00".to_vec();
    exif.extend_from_slice(&[0x1a, 0, 0, 0, 0, 0, 0, 0]);
    exif.extend_from_slice(b"GPSLatitude 48.8584 N GPSLongitude 2.2945 E");
    let mut jpeg = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut jpeg);
    encoder.set_exif_metadata(exif).expect("exif");
    let pixels = vec![128u8; 64 * 48 * 3];
    encoder.write_image(&pixels, 64, 48, image::ExtendedColorType::Rgb8).expect("jpeg");
    jpeg
}

async fn upload(
    server: &TestServer,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Fetched {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(content_type) = content_type {
        headers.push(("Content-Type", content_type));
    }
    server.send_bytes("POST", path, &headers, body).await
}

async fn get(server: &TestServer, path: &str, token: &str, extra: &[(&str, &str)]) -> Fetched {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    server.fetch("GET", path, &headers).await
}

fn json(fetched: &Fetched) -> Value {
    serde_json::from_slice(&fetched.body).unwrap_or(Value::Null)
}

/// How many files the server keeps (in its media directory, or in the database).
async fn stored_files(server: &TestServer) -> usize {
    if server.database_url().starts_with("sqlite:") {
        let Ok(dirs) = std::fs::read_dir(server.media_dir()) else { return 0 };
        dirs.flatten().map(|dir| std::fs::read_dir(dir.path()).map_or(0, Iterator::count)).sum()
    } else {
        let pool = sqlx::PgPool::connect(server.database_url()).await.expect("database");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM media_blobs")
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        count as usize
    }
}

pub async fn an_avatar_is_uploaded_reencoded_and_readable_by_anyone_signed_in(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let alice = server.user("alice").await;
    let stranger = server.user("stranger").await;
    let original = png(640, 480);
    let uploaded =
        upload(&server, "/api/users/alice/avatar?name=me.png", &alice, None, &original).await;
    assert_eq!(uploaded.status, 201, "{}", String::from_utf8_lossy(&uploaded.body));
    let media = json(&uploaded);
    let id = media["id"].as_str().expect("id").to_owned();
    assert_eq!(
        (&media["kind"], &media["contentType"], &media["width"], &media["height"]),
        (&json!("avatar"), &json!("image/png"), &json!(640), &json!(480))
    );
    assert_eq!(media["name"], "me.png");
    // The profile points at it.
    let (_, profile) = server.http("GET", "/api/users/alice", Some(&alice), None).await;
    assert_eq!(profile["avatar"], format!("/api/media/{id}"), "{profile}");

    // Anyone signed in reads it, with the headers a client caches by.
    let path = format!("/api/media/{id}");
    let fetched = get(&server, &path, &stranger, &[]).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.header("content-type"), Some("image/png"));
    assert_eq!(
        fetched.header("content-disposition"),
        Some("inline; filename=\"me.png\"; filename*=UTF-8''me.png")
    );
    assert_eq!(fetched.header("cache-control"), Some("private, max-age=31536000, immutable"));
    assert_eq!(fetched.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(fetched.header("accept-ranges"), Some("bytes"));
    let etag = fetched.header("etag").expect("etag").to_owned();
    assert_eq!(etag, format!("\"{id}\""));
    let decoded = image::load_from_memory(&fetched.body).expect("a PNG");
    assert_eq!((decoded.width(), decoded.height()), (640, 480));
    // Revalidation, a byte range, the thumbnail, and no token.
    let again = get(&server, &path, &stranger, &[("If-None-Match", &etag)]).await;
    assert_eq!((again.status, again.body.len()), (304, 0));
    let part = get(&server, &path, &stranger, &[("Range", "bytes=0-7")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, fetched.body[..8]);
    let total = fetched.body.len();
    assert_eq!(part.header("content-range"), Some(format!("bytes 0-7/{total}").as_str()));
    let beyond = get(&server, &path, &stranger, &[("Range", &format!("bytes={total}-"))]).await;
    assert_eq!(beyond.status, 416);
    let thumbnail = get(&server, &format!("{path}/thumbnail"), &stranger, &[]).await;
    assert_eq!(thumbnail.status, 200);
    let small = image::load_from_memory(&thumbnail.body).expect("a thumbnail");
    assert_eq!((small.width(), small.height()), (320, 240));
    let anonymous = server.fetch("GET", &path, &[]).await;
    assert_eq!(anonymous.status, 401);
    // Only your own avatar.
    let theirs =
        upload(&server, "/api/users/alice/avatar", &stranger, Some("image/png"), &original).await;
    assert_eq!(theirs.status, 403);
}

pub async fn attachments_are_readable_by_the_chats_members_only_and_lose_their_metadata(
    backend: Backend,
) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let carol = server.user("carol").await;
    let photo = jpeg_with_gps();
    assert!(photo.windows(3).any(|w| w == b"GPS"), "the test photo carries GPS data");
    let path = format!("/api/chat/{chat}/media?name=tower.jpeg");
    let uploaded = upload(&server, &path, &tokens[0], Some("image/jpeg"), &photo).await;
    assert_eq!(uploaded.status, 201, "{}", String::from_utf8_lossy(&uploaded.body));
    let media = json(&uploaded);
    assert_eq!((&media["chatId"], &media["name"]), (&json!(chat), &json!("tower.jpg")));
    let id = media["id"].as_str().expect("id").to_owned();

    let fetched = get(&server, &format!("/api/media/{id}"), &tokens[1], &[]).await;
    assert_eq!((fetched.status, fetched.header("content-type")), (200, Some("image/jpeg")));
    assert!(!fetched.body.windows(3).any(|w| w == b"GPS"), "GPS data stripped");
    assert!(!fetched.body.windows(4).any(|w| w == b"Exif"), "no EXIF at all");
    assert_eq!(media["size"], fetched.body.len());
    // Not a member: as if it did not exist. Nor does a made-up address, or a path.
    let outsider = get(&server, &format!("/api/media/{id}"), &carol, &[]).await;
    assert_eq!(outsider.status, 404);
    let unknown = get(&server, &format!("/api/media/{}", "0".repeat(64)), &tokens[1], &[]).await;
    assert_eq!(unknown.status, 404);
    let odd = get(&server, "/api/media/..%2F..%2Fsecret", &tokens[1], &[]).await;
    assert_eq!(odd.status, 404);
    // Uploading to a chat you are not in.
    let intruder = upload(&server, &path, &carol, Some("image/jpeg"), &photo).await;
    assert_eq!(intruder.status, 403, "{}", String::from_utf8_lossy(&intruder.body));

    // Any file: its type from its content, offered as a download.
    let pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n";
    let path = format!("/api/chat/{chat}/media?name=notes%20%C3%A9t%C3%A9.pdf");
    let uploaded = upload(&server, &path, &tokens[1], None, pdf).await;
    assert_eq!(uploaded.status, 201, "{}", String::from_utf8_lossy(&uploaded.body));
    let media = json(&uploaded);
    assert_eq!(
        (&media["contentType"], &media["name"]),
        (&json!("application/pdf"), &json!("notes été.pdf"))
    );
    let fetched =
        get(&server, &format!("/api/media/{}", media["id"].as_str().expect("id")), &tokens[0], &[])
            .await;
    assert_eq!(fetched.body, pdf);
    assert_eq!(
        fetched.header("content-disposition"),
        Some("attachment; filename=\"notes _t_.pdf\"; filename*=UTF-8''notes%20%C3%A9t%C3%A9.pdf")
    );
}

/// What is wrong, where it goes, its claimed type, its bytes, and the status it must get.
type BadUpload<'a> = (&'a str, String, Option<&'a str>, Vec<u8>, u16);

pub async fn bad_uploads_are_refused_and_nothing_is_stored(backend: Backend) {
    let mut settings = test_settings();
    settings.max_upload_bytes = 64 * 1024;
    settings.creation = CreationLimits { uploads_per_minute: 6, ..CreationLimits::default() };
    let Some(server) = TestServer::start_with(backend, settings).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    let alice = &tokens[0];
    let attach = |name: &str| format!("/api/chat/{chat}/media?name={name}");
    let text = b"print('hello')\n".as_slice();
    // A header declaring 30,000 x 30,000 pixels in a few bytes: a decompression bomb.
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&30_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&30_000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]); // the IHDR chunk's type and data
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let cases: [BadUpload; 6] = [
        ("too large", attach("big.bin"), None, vec![7u8; 100 * 1024], 413),
        ("a lying type", attach("x.png"), Some("image/png"), text.to_vec(), 415),
        ("an avatar that is no image", "/api/users/alice/avatar".into(), None, text.to_vec(), 415),
        ("a decompression bomb", attach("bomb.png"), None, bomb, 413),
        ("a path for a name", attach("..%2F..%2Fetc%2Fpasswd"), None, text.to_vec(), 422),
        ("an empty upload", attach("empty.txt"), None, Vec::new(), 400),
    ];
    for (what, path, content_type, body, status) in cases {
        let refused = upload(&server, &path, alice, content_type, &body).await;
        let message = json(&refused);
        assert_eq!(refused.status, status, "{what}: {message}");
        if status != 413 || what != "too large" {
            assert!(
                message["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}: {message}"
            );
        }
    }
    assert_eq!(stored_files(&server).await, 0, "nothing stored");
    // The upload limit, six a minute, counts every upload that reached the check (all of the
    // above but the one too large to be read).
    let sixth = upload(&server, &attach("ok.txt"), alice, None, text).await;
    assert_eq!(sixth.status, 201, "{}", String::from_utf8_lossy(&sixth.body));
    assert_eq!(stored_files(&server).await, 1);
    let seventh = upload(&server, &attach("ok.txt"), alice, None, text).await;
    assert_eq!(seventh.status, 429, "the seventh upload in the minute");
    assert_eq!(seventh.header("retry-after").map(|s| s.parse::<u64>().is_ok()), Some(true));
}

/// The CRC-32 of PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

pub async fn a_message_carries_attachments_of_its_chat(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = chat_among(&server, &["alice", "bob"]).await;
    server.user("carol").await;
    let carol = json!({"participants": ["carol"]});
    let (_, other) = server.http("POST", "/api/chat/create/", Some(&tokens[0]), Some(&carol)).await;
    let other = other["id"].as_i64().expect("chat id");
    let shot = png(200, 100);
    let path = format!("/api/chat/{chat}/media?name=trace.png");
    let uploaded = json(&upload(&server, &path, &tokens[0], None, &shot).await);
    let id = uploaded["id"].as_str().expect("id").to_owned();
    let mut alice = server.connect(&format!("/ws?token={}&protocol=2", tokens[0])).await;
    let mut bob = server.connect(&format!("/ws?token={}&protocol=2", tokens[1])).await;

    // A file alone (no text): every member gets it described.
    let send =
        json!({"command": "new_message", "chatId": chat, "message": "", "attachments": [id]});
    let (ack, _) = alice.call(send, 1).await;
    assert_eq!(ack["command"], "ack", "{ack}");
    let got = bob.expect("new_message").await;
    let attachment = &got["message"]["attachments"][0];
    assert_eq!(
        (&attachment["id"], &attachment["name"], &attachment["contentType"]),
        (&json!(id), &json!("trace.png"), &json!("image/png"))
    );
    assert_eq!((&attachment["width"], &attachment["height"]), (&json!(200), &json!(100)));
    assert_eq!(attachment["thumbnail"], uploaded["thumbnail"]);
    assert_eq!(attachment["size"], uploaded["size"]);
    // History (REST) has it too.
    let (_, page) =
        server.http("GET", &format!("/api/chat/{chat}/messages/"), Some(&tokens[1]), None).await;
    assert_eq!(page["messages"][0]["attachments"][0]["id"], json!(id), "{page}");

    // Refused, nothing posted: an avatar, another chat's file, a made-up address, too many.
    let avatar = upload(&server, "/api/users/alice/avatar", &tokens[0], None, &png(8, 8)).await;
    let avatar = json(&avatar)["id"].as_str().expect("id").to_owned();
    let elsewhere =
        upload(&server, &format!("/api/chat/{other}/media?name=n.txt"), &tokens[0], None, b"notes")
            .await;
    let elsewhere = json(&elsewhere)["id"].as_str().expect("id").to_owned();
    let eleven: Vec<String> = (0..11).map(|i| format!("{i:064x}")).collect();
    let refusals = [
        (json!([avatar]), "not_found"),
        (json!([elsewhere]), "not_found"),
        (json!(["0".repeat(64)]), "not_found"),
        (json!(["../../etc/passwd"]), "invalid_field"),
        (json!(eleven), "invalid_field"),
    ];
    for (i, (attachments, code)) in refusals.into_iter().enumerate() {
        let send = json!({"command": "new_message", "chatId": chat, "message": "x", "attachments": attachments});
        let reply = alice.request(send, 10 + i as i64).await;
        assert_eq!(reply["code"], code, "{attachments}: {reply}");
    }
    bob.expect_nothing_pending().await;
    // The same bytes uploaded to this chat too: now they may be attached here.
    let again =
        upload(&server, &format!("/api/chat/{chat}/media?name=n.txt"), &tokens[1], None, b"notes")
            .await;
    assert_eq!(json(&again)["id"], json!(elsewhere), "the same content, the same address");
    let send = json!({"command": "new_message", "chatId": chat, "message": "notes", "attachments": [elsewhere]});
    let (ack, _) = bob.call(send, 2).await;
    assert_eq!(ack["message"]["attachments"][0]["name"], "n.txt", "{ack}");

    // Deleting the message drops its files from it.
    let seq = got["message"]["seq"].clone();
    let delete = json!({"command": "delete_message", "chatId": chat, "seq": seq});
    let (reply, _) = alice.call(delete, 3).await;
    assert_eq!(reply["command"], "ok", "{reply}");
    let (_, page) =
        server.http("GET", &format!("/api/chat/{chat}/messages/"), Some(&tokens[1]), None).await;
    let messages = page["messages"].as_array().expect("messages");
    let deleted = messages.iter().find(|m| m["seq"] == seq).expect("still listed");
    assert_eq!(deleted["deleted"], true, "{deleted}");
    assert!(deleted.get("attachments").is_none(), "{deleted}");
}
