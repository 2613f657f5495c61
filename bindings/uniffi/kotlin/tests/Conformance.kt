// The transcript scenarios (bindings/conformance/scenarios/*.json) against the Kotlin bindings:
// the Kotlin runner of the suite every SDK language runs, interpreting the files exactly as the
// format's README and the Rust runner (bindings/conformance/tests/rust_sdk.rs) do.
//
// Each scenario gets a fresh server (its `server` settings become --rate/--rate-burst), each
// user talks to it through a proxy of its own that can cut the user off, results and events are
// compared in canonical JSON, and an expected error must carry the code *and* be the exception
// class the bindings map that code to. Also checks that the generated `Client` class has every
// operation of hellocode_conformance::OPERATIONS.
package hellocode.tests

import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import uniffi.hellocode.*
import uniffi.hellocode.connect as connectClient

private const val EVENT_WAIT_MS = 10_000L

class StepFailed(message: String) : Exception(message)

// ---- canonical JSON (see bindings/conformance/README.md) ----

object Canonical {
    fun message(m: Message): Map<String, Any?> = mapOf(
        "id" to m.id, "chat" to m.chatId, "seq" to m.seq, "author" to m.author,
        "content" to m.content, "deleted" to m.deleted, "edited" to (m.editedAtMs != null),
        "client_id" to m.clientId, "item" to m.kind.name.lowercase(), "target" to m.target,
        "member" to m.member, "role" to m.role?.name?.lowercase(),
        "attachments" to m.attachments.map(::attachment),
    )
    fun messages(ms: List<Message>) = ms.map(::message)
    fun attachment(a: Attachment): Map<String, Any?> = mapOf(
        "id" to a.id, "name" to a.name, "contentType" to a.contentType, "size" to a.size.toLong(),
        "width" to a.width?.toLong(), "height" to a.height?.toLong(), "thumbnail" to a.thumbnail,
    )
    fun download(d: Download): Map<String, Any?> = mapOf(
        "contentType" to d.contentType, "size" to d.data.size.toLong(), "text" to utf8(d.data),
    )
    private fun utf8(bytes: ByteArray): String? = try {
        java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString()
    } catch (e: java.nio.charset.CharacterCodingException) {
        null
    }
    fun chat(c: Chat): Map<String, Any?> = mapOf(
        "id" to c.id, "kind" to c.kind.name.lowercase(), "name" to c.name, "topic" to c.topic,
        "participants" to c.participants,
        "roles" to c.members.mapNotNull { m -> m.role?.let { m.username to it.name.lowercase() } }.toMap(),
        "last_seq" to c.lastSeq,
    )
    fun user(u: User): Map<String, Any?> = mapOf(
        "id" to u.id, "username" to u.username, "timezone" to u.timezone, "languages" to u.languages, "avatar" to u.avatar,
    )
    fun language(l: Language): Map<String, Any?> = mapOf("id" to l.id, "name" to l.name)
    fun pending(p: PendingSend): Map<String, Any?> = mapOf("client_id" to p.clientId, "chat" to p.chatId, "content" to p.content)
    fun invitation(i: Invitation): Map<String, Any?> = mapOf(
        "id" to i.id, "chat" to i.chatId, "chat_kind" to i.kind.name.lowercase(), "name" to i.name,
        "inviter" to i.inviter, "invitee" to i.invitee, "state" to i.state.name.lowercase(),
    )
    fun inviteLink(l: InviteLink): Map<String, Any?> = mapOf(
        "id" to l.id, "chat" to l.chatId, "created_by" to l.createdBy, "lifetime" to (l.expiresAtMs - l.createdAtMs) / 1000,
        "max_uses" to l.maxUses?.toLong(), "uses" to l.uses.toLong(), "revoked" to l.revoked,
    )
    fun pushSettings(s: PushSettings): Map<String, Any?> = mapOf(
        "pushers" to s.pushers.map {
            mapOf(
                "app_id" to it.appId, "pushkey" to it.pushkey, "url" to it.url,
                "device_name" to it.deviceName, "lang" to it.lang, "previews" to it.previews,
            )
        },
        "muted_chats" to s.mutedChats,
    )
    fun issuedInviteLink(issued: IssuedInviteLink): Map<String, Any?> = mapOf("link" to inviteLink(issued.link), "token" to issued.token)
    fun state(s: ConnectionState): Map<String, Any?> = when (s) {
        is ConnectionState.Connected -> mapOf("state" to "connected", "username" to s.username)
        is ConnectionState.Reconnecting -> mapOf("state" to "reconnecting", "attempt" to s.attempt.toLong(), "error" to s.error.code)
        is ConnectionState.Closed -> mapOf("state" to "closed", "error" to s.error?.code)
    }
    fun event(e: Event): Map<String, Any?> = when (e) {
        is Event.MessageReceived -> message(e.message) + ("kind" to "message")
        is Event.MessageEdited -> message(e.message) + ("kind" to "edited")
        is Event.MessageDeleted -> mapOf("kind" to "deleted", "chat" to e.chatId, "seq" to e.seq)
        is Event.Typing -> mapOf("kind" to "typing", "chat" to e.chatId, "username" to e.username)
        is Event.Read -> mapOf("kind" to "read", "chat" to e.chatId, "username" to e.username, "seq" to e.seq)
        is Event.Presence -> mapOf("kind" to "presence", "username" to e.username, "online" to e.online)
        is Event.Online -> mapOf("kind" to "online", "usernames" to e.usernames)
        is Event.ChatCreated -> chat(e.chat) + ("kind" to "chat_created")
        is Event.ChatEvent -> message(e.event) + ("kind" to "chat_event")
        is Event.ChatChanged -> chat(e.chat) + ("kind" to "chat_changed")
        is Event.ChatDeleted -> mapOf("kind" to "chat_deleted", "chat" to e.chatId, "by" to e.by)
        is Event.Invitation -> invitation(e.invitation) + ("kind" to "invitation")
        is Event.SendUpdated -> {
            val base = mapOf("kind" to "send", "client_id" to e.clientId, "chat" to e.chatId)
            when (val s = e.state) {
                is SendState.Pending -> base + ("state" to "pending")
                is SendState.Sent -> base + mapOf("state" to "sent", "message" to message(s.message))
                is SendState.Failed -> base + mapOf("state" to "failed", "error" to s.error.code)
            }
        }
        is Event.ConnectionChanged -> state(e.state) + ("kind" to "connection")
    }
}

// ---- substitution and matching (as hellocode_conformance::{substitute, matches}) ----

fun substitute(value: Any?, saved: Map<String, Any?>): Any? = when {
    value is String && value.startsWith("$") -> {
        val path = value.substring(1).split(".")
        if (path[0] !in saved) throw StepFailed("nothing saved as ${path[0]}")
        var found = saved[path[0]]
        for (part in path.drop(1)) {
            found = when {
                found is Map<*, *> && found.containsKey(part) -> found[part]
                found is List<*> && part.toIntOrNull()?.let { it < found.size } == true -> found[part.toInt()]
                else -> throw StepFailed("$value: no field $part")
            }
        }
        found
    }
    value is List<*> -> value.map { substitute(it, saved) }
    value is Map<*, *> -> value.entries.associate { (k, v) -> k.toString() to substitute(v, saved) }
    else -> value
}

/** null if `actual` has everything `expected` says, else why not. */
fun mismatch(expected: Any?, actual: Any?): String? {
    if (expected == "*") return null
    if (expected is Map<*, *> && expected.containsKey("\$contains") && actual is List<*>) {
        val items = expected["\$contains"] as? List<*> ?: return "\$contains takes a list"
        for (item in items) {
            if (actual.none { mismatch(item, it) == null }) return "no item matching ${Json.write(item)} in ${Json.write(actual)}"
        }
        return null
    }
    if (expected is Map<*, *> && actual is Map<*, *>) {
        for ((key, want) in expected) {
            if (!actual.containsKey(key)) return "missing \"$key\" in ${Json.write(actual)}"
            mismatch(want, actual[key])?.let { return "$key: $it" }
        }
        return null
    }
    if (expected is List<*> && actual is List<*>) {
        if (expected.size != actual.size) return "${expected.size} items expected, got ${actual.size}: ${Json.write(actual)}"
        expected.zip(actual).forEachIndexed { i, (w, h) -> mismatch(w, h)?.let { return "[$i]: $it" } }
        return null
    }
    val same = if (expected is Number && actual is Number) expected.toDouble() == actual.toDouble() else expected == actual
    return if (same) null else "expected ${Json.write(expected)}, got ${Json.write(actual)}"
}

/** null if `actual` has none of `unwanted` (keys of an object, each value as a string; items of
 *  a list, by matching), else why not. */
fun lacks(unwanted: List<*>, actual: Any?): String? {
    for (value in unwanted) {
        val found = when (actual) {
            is Map<*, *> -> actual.containsKey(value as? String ?: Json.write(value))
            is List<*> -> actual.any { mismatch(value, it) == null }
            else -> return "`lacks` needs an object or a list, got ${Json.write(actual)}"
        }
        if (found) return "${Json.write(value)} should not be in ${Json.write(actual)}"
    }
    return null
}

/** The exception class the bindings use for a code (as HelloCodeError::from_code). */
fun expectedClass(code: String): String = when (code) {
    "invalid_credentials", "invalid_token", "username_taken", "not_authenticated", "already_authenticated" -> "Auth"
    "forbidden", "impersonation", "wrong_chat" -> "NotAllowed"
    "not_found" -> "NotFound"
    "invalid_argument", "invalid_field", "missing_field", "validation_failed", "frame_too_large", "too_large", "invalid_url" -> "InvalidInput"
    "rate_limited" -> "RateLimited"
    "connection_lost" -> "ConnectionLost"
    "transport" -> "Transport"
    "timeout" -> "Timeout"
    "closed" -> "Closed"
    "queue_full" -> "QueueFull"
    "expired" -> "Expired"
    "protocol", "internal", "not_json", "not_an_object", "missing_command", "unknown_command" -> "Protocol"
    "persistence" -> "Persistence"
    "unsupported" -> "Unsupported"
    else -> "Other"
}

fun expectError(error: HelloCodeException, code: String, says: String? = null) {
    if (error.code != code) throw StepFailed("expected error $code, got ${error.code} (${error.detail})")
    val cls = error::class.simpleName
    if (cls != expectedClass(code)) throw StepFailed("$code raised as $cls, not ${expectedClass(code)}")
    if (says != null && !error.detail.contains(says)) throw StepFailed("the error does not say \"$says\": ${error.detail}")
}

// ---- the runner ----

class Person(val proxy: Proxy) {
    var client: Client? = null
    var events = Channel<Event>(Channel.UNLIMITED)
    var token: String? = null
    var pump: Job? = null
    var listener: ListenerHandle? = null

    suspend fun close() {
        listener?.remove()
        client?.shutdown()
        pump?.cancel()
    }
}

class Run(private val server: TestServer, private val scope: CoroutineScope) {
    private val people = mutableMapOf<String, Person>()
    private val saved = mutableMapOf<String, Any?>()

    private fun person(user: String) = people.getOrPut(user) { Person(Proxy(server.host, server.port)) }

    suspend fun finish() {
        for (p in people.values) { p.close(); p.proxy.close() }
    }

    @Suppress("UNCHECKED_CAST")
    suspend fun step(step: Map<String, Any?>) {
        val user = step["user"] as String
        when {
            "connect" in step -> connect(step, step["connect"] as String)
            step["disconnect"] == true -> person(user).proxy.cut()
            step["reconnect"] == true -> person(user).proxy.restore()
            "event" in step -> expectEvent(user, substitute(step["event"], saved) as Map<String, Any?>)
            "call" in step -> {
                val args = substitute(step["args"] ?: emptyMap<String, Any?>(), saved) as Map<String, Any?>
                val client = person(user).client ?: throw StepFailed("$user not connected")
                val value = try {
                    callOperation(client, step["call"] as String, args)
                } catch (e: HelloCodeException) {
                    val code = step["error"] as String? ?: throw StepFailed("error ${e.code} (${e.detail})")
                    expectError(e, code, step["error_says"] as String?)
                    return
                }
                if ("error" in step) throw StepFailed("expected error ${step["error"]}, got ${Json.write(value)}")
                step["expect"]?.let { expected -> mismatch(substitute(expected, saved), value)?.let { throw StepFailed(it) } }
                (step["lacks"] as List<*>?)?.let { unwanted ->
                    lacks(substitute(unwanted, saved) as List<*>, value)?.let { throw StepFailed(it) }
                }
                (step["save"] as String?)?.let { saved[it] = value }
            }
            else -> throw StepFailed("no action")
        }
    }

    private suspend fun expectEvent(user: String, expected: Map<String, Any?>) {
        val kind = expected["kind"]
        val events = person(user).events
        val found = withTimeoutOrNull(EVENT_WAIT_MS) {
            while (true) {
                val actual = Canonical.event(events.receive())
                if (actual["kind"] != kind) continue
                val why = mismatch(expected, actual)
                // Connection events: the states before the expected one are skipped.
                if (why == null) return@withTimeoutOrNull true
                if (kind != "connection") throw StepFailed(why)
            }
            @Suppress("UNREACHABLE_CODE") false
        }
        if (found == null) throw StepFailed("no $kind event within $EVENT_WAIT_MS ms")
    }

    @Suppress("UNCHECKED_CAST")
    private suspend fun connect(step: Map<String, Any?>, how: String) {
        val user = step["user"] as String
        val person = person(user)
        val password = step["password"] as String? ?: PASSWORD
        val email = "$user@example.org"
        val settings = step["config"] as Map<String, Any?>? ?: emptyMap()
        val defaults = ClientConfig()
        val config = ClientConfig(
            reconnectInitialMs = 20uL, reconnectMaxMs = 200uL,
            sendQueue = (settings["send_queue"] as Long?)?.toUInt() ?: defaults.sendQueue,
            requestTimeoutMs = (settings["request_timeout_ms"] as Long?)?.toULong() ?: defaults.requestTimeoutMs,
        )
        val credentials = when (how) {
            "register" -> Credentials.Register(user, email, password)
            "login" -> Credentials.Password(user, password)
            "register_or_login" -> Credentials.RegisterOrLogin(user, email, password)
            "token" -> {
                val given = substitute(step["args"] ?: emptyMap<String, Any?>(), saved) as Map<String, Any?>
                Credentials.Token(given["token"] as String? ?: person.token ?: throw StepFailed("no token saved yet"))
            }
            else -> throw StepFailed("unknown way to connect: $how")
        }
        val client = try {
            connectClient(person.proxy.url, credentials, config)
        } catch (e: HelloCodeException) {
            val code = step["error"] as String? ?: throw StepFailed("connect failed: ${e.code} (${e.detail})")
            expectError(e, code)
            return
        }
        if ("error" in step) {
            client.shutdown()
            throw StepFailed("expected error ${step["error"]}, connected")
        }
        // The new client replaces the user's earlier one (if any), which is closed.
        person.close()
        person.pump = null
        person.listener = null
        val events = Channel<Event>(Channel.UNLIMITED)
        if (step["listener"] == true) {
            person.listener = client.addListener(object : EventListener {
                override fun onEvent(event: Event) { events.trySend(event) }
            })
        } else {
            val stream = client.events()
            person.pump = scope.launch(Dispatchers.Default) { stream.asFlow().collect { events.send(it) } }
        }
        person.token = client.token()
        person.client = client
        person.events = events
    }
}

private fun Map<String, Any?>.long(name: String): Long =
    (this[name] as? Number)?.toLong() ?: throw HelloCodeException.InvalidInput("invalid_argument", "argument $name")

private fun Map<String, Any?>.text(name: String): String =
    this[name] as? String ?: throw HelloCodeException.InvalidInput("invalid_argument", "argument $name")

private fun Map<String, Any?>.role(): Role =
    Role.entries.find { it.name.lowercase() == text("role") }
        ?: throw HelloCodeException.InvalidInput("invalid_argument", "no role ${text("role")}")

@Suppress("UNCHECKED_CAST")
private fun Map<String, Any?>.names(name: String): List<String> =
    this[name] as? List<String> ?: throw HelloCodeException.InvalidInput("invalid_argument", "argument $name")

/** A file's bytes: `base64`, else the UTF-8 of `text`. */
private fun Map<String, Any?>.file(): ByteArray =
    (this["base64"] as? String)?.let { java.util.Base64.getDecoder().decode(it) } ?: text("text").toByteArray()

/** A transfer's progress callback that keeps its last call. */
class LastProgress : TransferProgress {
    @Volatile private var last: Pair<Long, Long>? = null
    override fun onProgress(done: ULong, total: ULong) {
        last = done.toLong() to total.toLong()
    }
    fun finished(size: Long) {
        if (last != size to size) throw StepFailed("the last progress was $last, not $size of $size")
    }
}

/** One operation with the scenario's arguments; its result in canonical JSON. */
suspend fun callOperation(client: Client, call: String, args: Map<String, Any?>): Any? = when (call) {
    "send" -> Canonical.message(client.send(args.long("chat"), args.text("text")))
    "send_with_client_id" -> Canonical.message(client.sendWithClientId(args.long("chat"), args.text("text"), args.text("client_id")))
    "enqueue" -> Canonical.pending(client.enqueue(args.long("chat"), args.text("text")))
    "enqueue_with_client_id" -> Canonical.pending(client.enqueueWithClientId(args.long("chat"), args.text("text"), args.text("client_id")))
    "pending_sends" -> client.pendingSends().map(Canonical::pending)
    "fetch_messages" -> Canonical.messages(
        client.fetchMessages(args.long("chat"), (args["before"] as Number?)?.toLong(), (args["limit"] as Number?)?.toInt()?.toUInt()),
    )
    "history" -> Canonical.messages(client.history(args.long("chat")).asFlow().toList())
    "history_before" -> Canonical.messages(client.historyBefore(args.long("chat"), args.long("seq")).asFlow().toList())
    "create_chat" -> Canonical.chat(client.createChat(args.names("participants")))
    "chat_with" -> Canonical.chat(client.chatWith(args.names("usernames")))
    "list_chats" -> client.listChats().map(Canonical::chat)
    "add_participants" -> Canonical.chat(client.addParticipants(args.long("chat"), args.names("usernames")))
    "create_group" -> Canonical.chat(client.createGroup(args.text("name"), args.names("participants")))
    "get_chat" -> Canonical.chat(client.getChat(args.long("chat")))
    "remove_participant" -> Canonical.chat(client.removeParticipant(args.long("chat"), args.text("username")))
    "leave_chat" -> client.leaveChat(args.long("chat")).let { null }
    "set_role" -> Canonical.chat(client.setRole(args.long("chat"), args.text("username"), args.role()))
    "update_chat" -> Canonical.chat(client.updateChat(args.long("chat"), args["name"] as String?, args["topic"] as String?))
    "delete_chat" -> client.deleteChat(args.long("chat")).let { null }
    "find_users" -> client.findUsers(args.text("language")).map(Canonical::user)
    "typing" -> client.typing(args.long("chat")).let { null }
    "mark_read" -> client.markRead(args.long("chat"), args.long("seq")).let { null }
    "read_positions" -> client.readPositions(args.long("chat")).map { mapOf("username" to it.username, "seq" to it.seq) }
    "edit_message" -> Canonical.message(client.editMessage(args.long("chat"), args.long("seq"), args.text("text")))
    "delete_message" -> client.deleteMessage(args.long("chat"), args.long("seq")).let { null }
    "ping" -> client.ping() >= 0.0
    "positions" -> client.positions().entries.associate { (chat, seq) -> chat.toString() to seq }
    "get_user" -> Canonical.user(client.getUser(args.text("username")))
    "update_profile" -> Canonical.user(
        client.updateProfile(ProfileUpdate(timezone = args["timezone"] as String?, languages = (args["languages"] as List<*>?)?.map { it as String })),
    )
    "languages" -> client.languages().map(Canonical::language)
    "add_language" -> Canonical.language(client.addLanguage(args.text("name")))
    "contacts" -> client.contacts()
    "add_contact" -> client.addContact(args.text("username"))
    "remove_contact" -> client.removeContact(args.text("username"))
    "create_bot_token" -> client.createBotToken(args.text("name")).let { mapOf("id" to it.id, "name" to it.name, "token" to it.token) }
    "bot_tokens" -> client.botTokens().map { mapOf("id" to it.id, "name" to it.name, "revoked" to it.revoked) }
    "revoke_bot_token" -> client.revokeBotToken(args.long("id")).let { null }
    "set_pusher" -> Canonical.pushSettings(
        client.setPusher(
            PusherSpec(
                appId = args.text("app_id"),
                pushkey = args.text("pushkey"),
                url = args.text("url"),
                deviceName = args["device_name"] as String?,
                lang = args["lang"] as String?,
                previews = args["previews"] as Boolean?,
            ),
        ),
    )
    "remove_pusher" -> Canonical.pushSettings(client.removePusher(args.text("app_id"), args.text("pushkey")))
    "push_settings" -> Canonical.pushSettings(client.pushSettings())
    "mute_chat" -> Canonical.pushSettings(
        client.muteChat(args.long("chat"), args["muted"] as? Boolean ?: throw HelloCodeException.InvalidInput("invalid_argument", "argument muted")),
    )
    "invite" -> Canonical.invitation(client.invite(args.long("chat"), args.text("username")))
    "invitations" -> client.invitations().map(Canonical::invitation)
    "accept_invitation" -> Canonical.chat(client.acceptInvitation(args.long("id")))
    "decline_invitation" -> client.declineInvitation(args.long("id")).let { null }
    "cancel_invitation" -> client.cancelInvitation(args.long("id")).let { null }
    "create_invite_link" -> Canonical.issuedInviteLink(
        client.createInviteLink(
            args.long("chat"),
            (args["expires_in"] as Number?)?.toLong()?.let { (it * 1000).toULong() },
            (args["max_uses"] as Number?)?.toInt()?.toUInt(),
        ),
    )
    "invite_links" -> client.inviteLinks(args.long("chat")).map(Canonical::inviteLink)
    "revoke_invite_link" -> client.revokeInviteLink(args.long("chat"), args.long("link")).let { null }
    "join_by_link" -> Canonical.chat(client.joinByLink(args.text("token")))
    "send_with_attachments" -> Canonical.message(client.sendWithAttachments(args.long("chat"), args.text("text"), args.names("attachments")))
    "upload_attachment", "upload_avatar" -> {
        val data = args.file()
        val progress = LastProgress()
        val uploaded = if (call == "upload_attachment") {
            client.uploadAttachment(args.long("chat"), args.text("name"), data, progress)
        } else {
            client.uploadAvatar(args.text("name"), data, progress)
        }
        progress.finished(data.size.toLong())
        Canonical.attachment(uploaded)
    }
    "download", "download_thumbnail" -> {
        val progress = LastProgress()
        val downloaded = if (call == "download") {
            client.download(args.text("media"), progress)
        } else {
            client.downloadThumbnail(args.text("media"), progress)
        }
        progress.finished(downloaded.data.size.toLong())
        Canonical.download(downloaded)
    }
    "close" -> client.shutdown().let { null }
    "username" -> client.username()
    "token" -> client.token() != null
    "state" -> Canonical.state(client.state())
    else -> throw HelloCodeException.InvalidInput("invalid_argument", "no operation $call")
}

/** The Kotlin name of a Rust operation (`close` is `shutdown`: Kotlin objects have a close()). */
fun kotlinName(operation: String): String =
    if (operation == "close") "shutdown"
    else operation.split("_").mapIndexed { i, part -> if (i == 0) part else part.replaceFirstChar(Char::uppercaseChar) }.joinToString("")

/** hellocode_conformance::OPERATIONS, read from the crate's source. */
fun operations(repo: File): List<String> {
    val source = File(repo, "bindings/conformance/src/lib.rs").readText()
    val block = source.substringAfter("pub const OPERATIONS: &[&str] = &[").substringBefore("];")
    return Regex("\"([a-z_]+)\"").findAll(block).map { it.groupValues[1] }.toList()
}

@Suppress("UNCHECKED_CAST")
fun main() {
    val repo = repoRoot()
    val suite = Suite("kotlin transcript suite")
    suite.test("the generated Client has every operation of OPERATIONS (and events, add_listener)") {
        // JVM names of functions with unsigned (inline class) parameters carry a -hash suffix.
        val methods = Client::class.java.methods.map { it.name.substringBefore('-') }.toSet()
        val wanted = operations(repo) + listOf("events", "add_listener")
        assertTrue(wanted.size >= 30, "OPERATIONS read from the source: $wanted")
        val missing = wanted.filter { kotlinName(it) !in methods }
        assertTrue(missing.isEmpty(), "uniffi.hellocode.Client lacks $missing")
    }
    val only = System.getenv("SCENARIO")
    val files = File(repo, "bindings/conformance/scenarios").listFiles { f -> f.name.endsWith(".json") }!!
        .sortedBy { it.name }.filter { only == null || it.name.contains(only) }
    suite.test("there are at least 15 scenarios") { assertTrue(only != null || files.size >= 15, "found ${files.size}") }
    for (file in files) {
        suite.test("scenario ${file.nameWithoutExtension}") {
            val scenario = Json.parse(file.readText()) as Map<String, Any?>
            val settings = scenario["server"] as Map<String, Any?>? ?: emptyMap()
            TestServer(
                rate = (settings["rate"] as Long?)?.toInt(),
                rateBurst = (settings["rate_burst"] as Long?)?.toInt(),
            ).use { server ->
                runBlocking {
                    withTimeout(120_000) {
                        val run = Run(server, this)
                        try {
                            (scenario["steps"] as List<Map<String, Any?>>).forEachIndexed { index, step ->
                                try {
                                    run.step(step)
                                } catch (e: StepFailed) {
                                    throw StepFailed("scenario ${file.name} (${scenario["name"]}), step $index [${Json.write(step)}]: ${e.message}")
                                }
                            }
                        } finally {
                            run.finish()
                        }
                    }
                }
            }
        }
    }
    suite.finish()
}
