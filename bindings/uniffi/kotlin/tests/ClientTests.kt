// The Kotlin bindings against a real server on a random port: connecting, chats, sending and
// receiving through the listener and the Flow, groups, invitations and invite links, files, push
// settings, history pages, errors as exceptions with codes,
// the server dropping the connection (nothing lost or repeated), and a bot with Kotlin handlers
// (commands, joins, invitations).
package hellocode.tests

import java.util.UUID
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import uniffi.hellocode.*
import uniffi.hellocode.connect as connectClient

/** Every user's password unless a scenario step gives another. */
const val PASSWORD = "correct horse battery staple"
val FAST = ClientConfig(reconnectInitialMs = 20uL, reconnectMaxMs = 200uL)

fun unique(prefix: String) = "${prefix}_${UUID.randomUUID().toString().take(8)}"

suspend fun register(url: String, name: String, config: ClientConfig = FAST): Client =
    connectClient(url, Credentials.Register(name, "$name@example.org", PASSWORD), config)

inline fun <reified E : HelloCodeException> expectThrows(code: String, body: () -> Unit) {
    try {
        body()
    } catch (e: HelloCodeException) {
        assertTrue(e is E, "expected ${E::class.simpleName}, got ${e::class.simpleName} (${e.code})")
        assertEquals(code, e.code, "code")
        return
    }
    fail("expected ${E::class.simpleName} ($code), nothing thrown")
}

fun blocking(body: suspend kotlinx.coroutines.CoroutineScope.() -> Unit) = runBlocking { withTimeout(60_000) { body() } }

fun main() {
    val suite = Suite("kotlin client tests")
    TestServer().use { server ->
        suite.test("register, log in with the password, then with the token") {
            blocking {
                val name = unique("ann")
                val first = register(server.url, name)
                assertEquals(name, first.username())
                val token = first.token() ?: fail("no token")
                assertTrue(first.state() is ConnectionState.Connected, "connected: ${first.state()}")
                first.shutdown()
                val again = connectClient(server.url, Credentials.Password(name, PASSWORD), FAST)
                val byToken = connectClient(server.url, Credentials.Token(token), FAST)
                assertEquals(name, byToken.username())
                again.shutdown(); byToken.shutdown()
            }
        }

        suite.test("connectAny: the first node that answers; no node at all is InvalidInput") {
            blocking {
                val deadPort = java.net.ServerSocket(0).use { it.localPort } // closed: refuses
                val name = unique("nodes")
                register(server.url, name).shutdown()
                val client = connectAny(listOf("ws://127.0.0.1:$deadPort", server.url), Credentials.Password(name, PASSWORD), FAST)
                assertEquals(name, client.username())
                assertEquals(0, client.listChats().size, "a request through the second node")
                client.shutdown()
                expectThrows<HelloCodeException.InvalidInput>("invalid_url") {
                    runBlocking { connectAny(listOf(), Credentials.Password(name, PASSWORD), FAST) }
                }
            }
        }

        suite.test("a chat: send, receive through the listener and the Flow, local echo") {
            blocking {
                val (a, b) = unique("alice") to unique("bob")
                val alice = register(server.url, a)
                val bob = register(server.url, b)
                val heard = Channel<Event>(Channel.UNLIMITED)
                val testThread = Thread.currentThread()
                val handle = bob.addListener(object : EventListener {
                    override fun onEvent(event: Event) {
                        assertTrue(Thread.currentThread() != testThread, "called on the caller's thread")
                        heard.trySend(event)
                    }
                })
                val flowed = async(Dispatchers.Default) {
                    bob.eventFlow().filterIsInstance<Event.MessageReceived>().map { it.message.content }.take(3).toList()
                }
                delay(100) // the flow's listener is added when it starts collecting
                val chat = alice.createChat(listOf(b))
                assertEquals(setOf(a, b), chat.participants.toSet(), "participants")
                val sent = alice.send(chat.id, "hello")
                assertEquals(1L, sent.seq, "seq")
                // Local echo: enqueue returns at once; SendUpdated goes Pending -> Sent.
                val echoes = Channel<Event.SendUpdated>(Channel.UNLIMITED)
                val echoing = launch(Dispatchers.Default) {
                    alice.eventFlow().filterIsInstance<Event.SendUpdated>().collect { echoes.send(it) }
                }
                delay(100)
                val pending = alice.enqueue(chat.id, "queued")
                val updates = mutableListOf<Event.SendUpdated>()
                while (updates.size < 2) {
                    val update = withTimeout(10_000) { echoes.receive() }
                    if (update.clientId == pending.clientId) updates += update
                }
                echoing.cancel()
                assertTrue(updates.all { it.clientId == pending.clientId }, "updates of ${pending.clientId}: $updates")
                assertTrue(updates[0].state is SendState.Pending && updates[1].state is SendState.Sent, "states: $updates")
                alice.sendWithClientId(chat.id, "third", "key-1")
                assertEquals(listOf("hello", "queued", "third"), flowed.await(), "through the Flow")
                val received = mutableListOf<String>()
                while (received.size < 3) {
                    val event = withTimeout(10_000) { heard.receive() }
                    if (event is Event.MessageReceived) received += event.message.content
                }
                assertEquals(listOf("hello", "queued", "third"), received, "through the listener")
                handle.remove()
                alice.send(chat.id, "after remove")
                delay(300)
                assertTrue(generateSequence { heard.tryReceive().getOrNull() }.none { it is Event.MessageReceived }, "no event after remove()")
                alice.shutdown(); bob.shutdown()
            }
        }

        suite.test("groups: roles, names, chat events through the Flow, leaving, deleting") {
            blocking {
                val (a, b, c) = Triple(unique("owner"), unique("admin"), unique("member"))
                val alice = register(server.url, a)
                val bob = register(server.url, b)
                val carol = register(server.url, c)
                val told = Channel<Event>(Channel.UNLIMITED)
                val watching = launch(Dispatchers.Default) {
                    carol.eventFlow().collect { event ->
                        if (event is Event.ChatEvent || event is Event.ChatChanged || event is Event.ChatDeleted) told.send(event)
                    }
                }
                delay(100) // the flow's listener is added when it starts collecting
                val group = alice.createGroup("Crabs", listOf(b, c))
                assertEquals(ChatKind.GROUP, group.kind, "kind")
                assertEquals("Crabs", group.name, "name")
                assertEquals(mapOf(a to Role.OWNER, b to Role.MEMBER, c to Role.MEMBER), group.members.associate { it.username to it.role }, "roles")
                val promoted = alice.setRole(group.id, b, Role.ADMIN)
                assertEquals(Role.ADMIN, promoted.members.first { it.username == b }.role, "bob is an admin")
                val role = withTimeout(10_000) { told.receive() } as Event.ChatEvent
                assertEquals(EventKind.ROLE, role.event.kind, "a role event")
                assertEquals(b to Role.ADMIN, role.event.member to role.event.role, "whose, which")
                val changed = withTimeout(10_000) { told.receive() } as Event.ChatChanged
                assertEquals(promoted, changed.chat, "the chat as it now is")
                expectThrows<HelloCodeException.NotAllowed>("forbidden") {
                    runBlocking { carol.updateChat(group.id, "Mine", null) }
                }
                val renamed = bob.updateChat(group.id, "Ferris fans", "")
                assertEquals("Ferris fans" to null, renamed.name to renamed.topic, "renamed, no topic")
                val rename = withTimeout(10_000) { told.receive() } as Event.ChatEvent
                assertEquals(EventKind.RENAME to "Ferris fans", rename.event.kind to rename.event.content, "rename event")
                assertTrue(withTimeout(10_000) { told.receive() } is Event.ChatChanged, "then the chat")
                assertEquals(renamed, carol.getChat(group.id), "get_chat")

                val smaller = bob.removeParticipant(group.id, c)
                assertEquals(setOf(a, b), smaller.participants.toSet(), "carol removed")
                val removal = withTimeout(10_000) { told.receive() } as Event.ChatEvent
                assertEquals(EventKind.REMOVE to c, removal.event.kind to removal.event.member, "carol's removal")
                assertTrue(withTimeout(10_000) { told.receive() } is Event.ChatChanged, "her last event of it")
                assertTrue(group.id !in carol.positions(), "carol's client forgot the chat")
                expectThrows<HelloCodeException.NotAllowed>("forbidden") { runBlocking { carol.getChat(group.id) } }

                alice.leaveChat(group.id)
                val handedOver = bob.getChat(group.id)
                assertEquals(listOf(Participant(b, Role.OWNER)), handedOver.members, "bob owns it now")
                val direct = bob.createChat(listOf(c))
                assertEquals(ChatKind.DIRECT to null, direct.kind to direct.members.first().role, "a direct chat")
                bob.deleteChat(direct.id)
                val deleted = withTimeout(10_000) { told.receive() } as Event.ChatDeleted
                assertEquals(direct.id to b, deleted.chatId to deleted.by, "deleted by bob")
                watching.cancel()
                alice.shutdown(); bob.shutdown(); carol.shutdown()
            }
        }

        suite.test("invitations and invite links: announced, listed, accepted, declined, cancelled, joined, revoked") {
            blocking {
                val (a, b) = unique("inviter") to unique("plain")
                val (d, e) = unique("invitee") to unique("joiner")
                val alice = register(server.url, a)
                val bob = register(server.url, b)
                val dave = register(server.url, d)
                val erin = register(server.url, e)
                val daveEvents = dave.events() // subscribed now: nothing from here on is missed
                suspend fun nextInvitation(): Invitation {
                    while (true) {
                        val event = withTimeout(10_000) { daveEvents.next() } ?: fail("events ended")
                        if (event is Event.Invitation) return event.invitation
                    }
                }
                val group = alice.createGroup("Crabs", listOf(b))
                alice.send(group.id, "before dave")
                val invitation = alice.invite(group.id, d)
                assertEquals(InvitationState.PENDING, invitation.state, "pending")
                assertEquals(Triple(group.id, "Crabs", a), Triple(invitation.chatId, invitation.name, invitation.inviter), "what and who")
                assertEquals(invitation, nextInvitation(), "announced to the invitee")
                assertEquals(invitation, alice.invite(group.id, d), "inviting again: the same invitation")
                assertEquals(listOf(invitation), dave.invitations(), "listed")
                expectThrows<HelloCodeException.NotAllowed>("forbidden") { runBlocking { bob.invite(group.id, d) } }
                expectThrows<HelloCodeException.NotAllowed>("forbidden") { runBlocking { dave.getChat(group.id) } }
                val joined = dave.acceptInvitation(invitation.id)
                assertEquals(Role.MEMBER, joined.members.first { it.username == d }.role, "a member")
                assertEquals(listOf("before dave"), dave.fetchMessages(group.id, null, null).map { it.content }, "dave reads the chat")
                assertEquals(group.id, dave.acceptInvitation(invitation.id).id, "accepting again: the chat")

                // Declined, then cancelled (the invitee is told).
                val declined = alice.invite(group.id, e)
                erin.declineInvitation(declined.id)
                expectThrows<HelloCodeException.NotFound>("not_found") { runBlocking { erin.acceptInvitation(declined.id) } }
                alice.leaveChat(group.id) // bob owns the group now
                val other = bob.createGroup("Other", listOf(a))
                val cancelled = bob.invite(other.id, d)
                assertEquals(cancelled, nextInvitation(), "announced")
                bob.cancelInvitation(cancelled.id)
                val told = nextInvitation()
                assertEquals(cancelled.id to InvitationState.CANCELLED, told.id to told.state, "withdrawn")
                assertEquals(emptyList<Invitation>(), dave.invitations(), "nothing pending")

                // A link: joined once per member, counted, revoked.
                val issued = bob.createInviteLink(other.id, 60_000uL, 2u)
                assertEquals(60_000L, issued.link.expiresAtMs - issued.link.createdAtMs, "a minute")
                assertEquals(Triple(2u, 0u, false), Triple(issued.link.maxUses, issued.link.uses, issued.link.revoked), "fresh")
                assertEquals(other.id, erin.joinByLink(issued.token).id, "erin joins")
                assertEquals(other.id, erin.joinByLink(issued.token).id, "again: the chat, no use")
                assertEquals(listOf(1u), bob.inviteLinks(other.id).map { it.uses }, "one use")
                bob.revokeInviteLink(other.id, issued.link.id)
                assertTrue(bob.inviteLinks(other.id).single().revoked, "revoked")
                expectThrows<HelloCodeException.NotFound>("not_found") { runBlocking { dave.joinByLink(issued.token) } }
                expectThrows<HelloCodeException.NotAllowed>("forbidden") {
                    runBlocking { erin.createInviteLink(other.id, null, null) } // a plain member
                }
                for (client in listOf(alice, bob, dave, erin)) client.shutdown()
            }
        }

        suite.test("files: upload with progress, send, receive, download identical bytes; refusals") {
            blocking {
                val alice = register(server.url, unique("ann"))
                val bob = register(server.url, unique("ben"))
                val carol = register(server.url, unique("cat"))
                val chat = alice.createChat(listOf(bob.username()))
                val received = CompletableDeferred<Message>()
                val handle = bob.addListener(object : EventListener {
                    override fun onEvent(event: Event) {
                        if (event is Event.MessageReceived && event.message.attachments.isNotEmpty()) received.complete(event.message)
                    }
                })
                val bytes = ByteArray(200_000) { (it % 26 + 'a'.code).toByte() }
                val calls = java.util.concurrent.CopyOnWriteArrayList<Pair<Long, Long>>()
                val progress = object : TransferProgress {
                    override fun onProgress(done: ULong, total: ULong) { calls.add(done.toLong() to total.toLong()) }
                }
                val file = alice.uploadAttachment(chat.id, "letters.txt", bytes, progress)
                assertEquals(bytes.size.toULong(), file.size, "size")
                assertEquals(bytes.size.toLong() to bytes.size.toLong(), calls.last(), "progress ends at the size")
                assertTrue(calls.size > 1 && calls.zipWithNext().all { (a, b) -> a.first < b.first }, "increasing: $calls")
                val sent = alice.sendWithAttachments(chat.id, "see file", listOf(file.id))
                assertEquals(listOf(file), sent.attachments, "the stored message describes the file")
                val message = withTimeout(10_000) { received.await() }
                assertEquals("letters.txt", message.attachments.single().name, "bob's message")
                val download = bob.download(file.id, null)
                assertTrue(download.data.contentEquals(bytes), "identical bytes")
                assertTrue(download.contentType.startsWith("text/plain"), download.contentType)
                expectThrows<HelloCodeException.NotFound>("not_found") { runBlocking { carol.download(file.id, null) } }
                expectThrows<HelloCodeException.NotAllowed>("forbidden") {
                    runBlocking { carol.uploadAttachment(chat.id, "x.txt", "x".toByteArray(), null) }
                }
                expectThrows<HelloCodeException.InvalidInput>("invalid_argument") {
                    runBlocking { bob.download("https://elsewhere.example/api/media/${file.id}", null) }
                }
                handle.remove()
                alice.shutdown(); bob.shutdown(); carol.shutdown()
            }
        }

        suite.test("push: a device's pusher registered, changed, listed, removed; chats muted; refusals") {
            blocking {
                val alice = register(server.url, unique("ann"))
                val bob = register(server.url, unique("ben"))
                val carol = register(server.url, unique("cat"))
                val chat = alice.createChat(listOf(bob.username()))
                val app = "org.example.chat.android"
                val gateway = "https://push.example.org/_matrix/push/v1/notify"
                assertEquals(PushSettings(emptyList(), emptyList()), bob.pushSettings(), "nothing at first")
                val settings = bob.setPusher(PusherSpec(app, "fcm-token", gateway, deviceName = "Bob's phone", lang = "en"))
                val pusher = settings.pushers.single()
                assertEquals(
                    listOf(app, "fcm-token", gateway, "Bob's phone", "en", true),
                    listOf(pusher.appId, pusher.pushkey, pusher.url, pusher.deviceName, pusher.lang, pusher.previews),
                    "registered",
                )
                assertTrue(pusher.createdAtMs > 1_600_000_000_000, "created at ${pusher.createdAtMs}")
                val changed = bob.setPusher(PusherSpec(app, "fcm-token", gateway, previews = false)).pushers.single()
                assertEquals(Triple(false, "", ""), Triple(changed.previews, changed.deviceName, changed.lang), "changed, not added")
                bob.setPusher(PusherSpec("org.example.chat.ios", "apns-token", gateway))
                assertEquals(
                    listOf(app to "fcm-token", "org.example.chat.ios" to "apns-token"),
                    bob.pushSettings().pushers.map { it.appId to it.pushkey },
                    "by app id, then push key",
                )
                assertEquals(listOf(chat.id), bob.muteChat(chat.id, true).mutedChats, "muted")
                assertEquals(emptyList<Long>(), alice.pushSettings().mutedChats, "alice's own settings")
                assertEquals(emptyList<Long>(), bob.muteChat(chat.id, false).mutedChats, "unmuted")
                assertEquals(listOf("apns-token"), bob.removePusher(app, "fcm-token").pushers.map { it.pushkey }, "removed")
                assertEquals(listOf("apns-token"), bob.removePusher(app, "fcm-token").pushers.map { it.pushkey }, "again: nothing changes")
                expectThrows<HelloCodeException.InvalidInput>("invalid_field") {
                    runBlocking { bob.setPusher(PusherSpec(app, "k", "ftp://push.example.org/_matrix/push/v1/notify")) }
                }
                expectThrows<HelloCodeException.InvalidInput>("invalid_field") {
                    runBlocking { bob.setPusher(PusherSpec(app, "k", "https://push.example.org/notify")) }
                }
                expectThrows<HelloCodeException.NotAllowed>("forbidden") { runBlocking { carol.muteChat(chat.id, true) } }
                expectThrows<HelloCodeException.NotFound>("not_found") { runBlocking { carol.muteChat(1_000_000_000_000, true) } }
                alice.shutdown(); bob.shutdown(); carol.shutdown()
            }
        }

        suite.test("history: pages with fetchMessages, the whole of it as a Flow") {
            blocking {
                val alice = register(server.url, unique("hist"))
                val other = register(server.url, unique("histb"))
                val chat = alice.createChat(listOf(other.username()))
                repeat(25) { alice.send(chat.id, "m${it + 1}") }
                val page1 = alice.fetchMessages(chat.id, null, 10u)
                assertEquals((25L downTo 16L).toList(), page1.map { it.seq }, "first page")
                val page2 = alice.fetchMessages(chat.id, page1.last().seq, 10u)
                assertEquals((15L downTo 6L).toList(), page2.map { it.seq }, "second page")
                assertEquals(10, alice.fetchMessages(chat.id, null, null).size, "default page")
                val all = alice.history(chat.id).asFlow().toList()
                assertEquals((25L downTo 1L).toList(), all.map { it.seq }, "history")
                val older = alice.historyBefore(chat.id, 4).asFlow().map { it.content }.toList()
                assertEquals(listOf("m3", "m2", "m1"), older, "history before 4")
                alice.shutdown()
            }
        }

        suite.test("errors are HelloCodeException subclasses with the SDK's codes") {
            blocking {
                val (a, c) = unique("erra") to unique("errc")
                val alice = register(server.url, a)
                val carol = register(server.url, c)
                val chat = alice.createChat(listOf(alice.username(), register(server.url, unique("errb")).username()))
                expectThrows<HelloCodeException.NotAllowed>("forbidden") { runBlocking { carol.fetchMessages(chat.id, null, null) } }
                expectThrows<HelloCodeException.NotFound>("not_found") { runBlocking { alice.getUser(unique("nobody")) } }
                expectThrows<HelloCodeException.Auth>("invalid_credentials") {
                    runBlocking { connectClient(server.url, Credentials.Password(a, "wrong password!!"), FAST) }
                }
                expectThrows<HelloCodeException.Auth>("username_taken") { runBlocking { register(server.url, a) } }
                expectThrows<HelloCodeException.InvalidInput>("invalid_argument") { alice.enqueueWithClientId(chat.id, "x", "") }
                expectThrows<HelloCodeException.InvalidInput>("invalid_url") {
                    runBlocking { connectClient("ftp://nowhere", Credentials.Token("t"), FAST) }
                }
                carol.shutdown()
                expectThrows<HelloCodeException.Closed>("closed") { runBlocking { carol.ping() } }
                val e = try { alice.editMessage(chat.id, 99, "x"); null } catch (e: HelloCodeException) { e }
                assertTrue(e != null && e.code == "not_found" && e.message!!.contains("not_found"), "message names the code: ${e?.message}")
                alice.shutdown()
            }
        }

        suite.test("the server drops the connection: nothing lost, nothing repeated, queued sends go out") {
            blocking {
                val (a, b) = unique("cuta") to unique("cutb")
                val proxy = Proxy(server.host, server.port)
                val alice = register(server.url, a)
                val bob = register(proxy.url, b)
                val chat = alice.createChat(listOf(b))
                val seen = mutableListOf<Long>()
                val states = mutableListOf<String>()
                val done = CompletableDeferred<Unit>()
                val collecting = launch(Dispatchers.Default) {
                    bob.eventFlow().collect { event ->
                        when (event) {
                            is Event.MessageReceived -> synchronized(seen) {
                                seen += event.message.seq
                                if (seen.size == 30) done.complete(Unit)
                            }
                            is Event.ConnectionChanged -> synchronized(states) { states += event.state::class.simpleName!! }
                            else -> {}
                        }
                    }
                }
                delay(100)
                repeat(10) { alice.send(chat.id, "before ${it + 1}") }
                proxy.cut()
                repeat(10) { alice.send(chat.id, "during ${it + 1}") }
                // Bob writes while disconnected: queued, sent after the reconnect, once each.
                val bobSends = (1..5).map { bob.enqueue(chat.id, "offline $it") }
                assertEquals(5, bob.pendingSends().size, "pending while down")
                delay(300)
                proxy.restore()
                repeat(5) { alice.send(chat.id, "after ${it + 1}") }
                withTimeout(20_000) { done.await() }
                delay(300)
                collecting.cancel()
                assertEquals((1L..30L).toList(), synchronized(seen) { seen.toList() }, "every message once, in order")
                assertTrue("Reconnecting" in states && states.last() == "Connected", "states: $states")
                val stored = alice.history(chat.id).asFlow().toList()
                assertEquals(30, stored.size, "stored")
                val offline = stored.filter { it.author == b }.map { it.clientId }.toSet()
                assertEquals(bobSends.map { it.clientId }.toSet(), offline, "bob's offline messages stored once each")
                assertEquals(0, bob.pendingSends().size, "queue drained")
                alice.shutdown(); bob.shutdown(); proxy.close()
            }
        }

        suite.test("a bot with Kotlin command handlers: typed args, usage replies, errors, ctx.reply") {
            blocking {
                val (a, botName) = unique("boss") to unique("bot")
                val alice = register(server.url, a)
                val botClient = register(server.url, botName)
                val calls = AtomicInteger()
                val bot = Bot(botClient, BotOptions())
                bot.addCommand(
                    BotCommand("add", description = "Add two numbers", args = listOf(ArgSpec("a", ArgKind.INTEGER), ArgSpec("b", ArgKind.INTEGER))),
                    object : CommandHandler {
                        override suspend fun handle(ctx: BotContext, rawArgs: String, args: List<String>): String? {
                            calls.incrementAndGet()
                            return "${args[0].toLong() + args[1].toLong()}"
                        }
                    },
                )
                bot.addCommand(
                    BotCommand("shout", aliases = listOf("loud"), args = listOf(ArgSpec("text", ArgKind.TEXT))),
                    object : CommandHandler {
                        override suspend fun handle(ctx: BotContext, rawArgs: String, args: List<String>): String? {
                            ctx.reply("${ctx.author()} says ${rawArgs.uppercase()}")
                            return null
                        }
                    },
                )
                bot.addCommand(
                    BotCommand("fail"),
                    object : CommandHandler {
                        override suspend fun handle(ctx: BotContext, rawArgs: String, args: List<String>): String? =
                            throw IllegalStateException("kotlin handler failed")
                    },
                )
                val running = launch(Dispatchers.Default) { bot.run() }
                delay(300)
                val chat = alice.createChat(listOf(botName))
                val replies = Channel<String>(Channel.UNLIMITED)
                val handle = alice.addListener(object : EventListener {
                    override fun onEvent(event: Event) {
                        if (event is Event.MessageReceived && event.message.author == botName) replies.trySend(event.message.content)
                    }
                })
                suspend fun ask(text: String): String {
                    alice.send(chat.id, text)
                    return withTimeout(10_000) { replies.receive() }
                }
                assertEquals("5", ask("!add 2 3"), "sum")
                assertTrue(ask("!add 2 many").contains("usage", ignoreCase = true), "usage reply")
                assertEquals(1, calls.get(), "handler not called on bad args")
                assertEquals("$a says HELLO THERE", ask("/loud hello there"), "alias and ctx.reply")
                val failed = ask("!fail")
                assertTrue(failed.isNotEmpty() && !failed.contains("IllegalStateException"), "short error reply: $failed")
                assertTrue(ask("!help").contains("add"), "help lists commands")
                bot.stop()
                withTimeout(15_000) { running.join() }
                handle.remove()
                alice.shutdown(); botClient.shutdown()
            }
        }

        suite.test("a bot's join and invite handlers: accepts alice's invitation, declines mallory's, welcomes a member") {
            blocking {
                val (a, m) = unique("owner") to unique("mallory")
                val (c, botName) = unique("carol") to unique("greeter")
                val d = unique("dave")
                val alice = register(server.url, a)
                val mallory = register(server.url, m)
                register(server.url, c).shutdown()
                register(server.url, d).shutdown()
                val botClient = register(server.url, botName)
                val declined = Channel<Long>(Channel.UNLIMITED)
                val bot = Bot(botClient, BotOptions())
                bot.onInvite(object : InviteHandler {
                    override suspend fun handle(ctx: InviteContext): String? {
                        if (ctx.inviter() != a) {
                            ctx.decline()
                            declined.send(ctx.invitation().id)
                            return null
                        }
                        val chat = ctx.accept()
                        assertEquals(chat, ctx.joined(), "the chat it joined")
                        return "Hello, ${ctx.chatName()}! ${ctx.botUsername()} is here."
                    }
                })
                bot.onJoin(object : JoinHandler {
                    override suspend fun handle(ctx: BotContext): String? =
                        "Welcome, ${ctx.member()}! ${ctx.author()} added you."
                })
                val running = launch(Dispatchers.Default) { bot.run() }
                delay(300)
                val fromBot = Channel<Pair<Long, String>>(Channel.UNLIMITED)
                val handle = alice.addListener(object : EventListener {
                    override fun onEvent(event: Event) {
                        if (event is Event.MessageReceived && event.message.author == botName) {
                            fromBot.trySend(event.message.chatId to event.message.content)
                        }
                    }
                })
                val group = alice.createGroup("Crabs", listOf(c))
                alice.invite(group.id, botName)
                assertEquals(group.id to "Hello, Crabs! $botName is here.", withTimeout(10_000) { fromBot.receive() }, "accepted, then greeted")
                assertTrue(alice.getChat(group.id).members.any { it.username == botName }, "the bot is a member")
                val other = mallory.createGroup("Traps", listOf(c))
                val invitation = mallory.invite(other.id, botName)
                assertEquals(invitation.id, withTimeout(10_000) { declined.receive() }, "declined")
                assertEquals(listOf(), botClient.invitations(), "nothing left pending")
                assertTrue(mallory.getChat(other.id).members.none { it.username == botName }, "not a member")
                alice.addParticipants(group.id, listOf(d))
                assertEquals(group.id to "Welcome, $d! $a added you.", withTimeout(10_000) { fromBot.receive() }, "the join handler")
                bot.stop()
                withTimeout(15_000) { running.join() }
                handle.remove()
                alice.shutdown(); mallory.shutdown(); botClient.shutdown()
            }
        }

        suite.test("a cancelled coroutine cancels its call; the client stays usable") {
            blocking {
                val proxy = Proxy(server.host, server.port)
                val alice = register(proxy.url, unique("cancel"), FAST.copy(requestTimeoutMs = 30_000uL))
                val chat = alice.createChat(listOf(register(server.url, unique("cancelb")).username()))
                proxy.cut()
                val waiting = async(Dispatchers.Default) { alice.fetchMessages(chat.id, null, null) }
                delay(200)
                waiting.cancel()
                proxy.restore()
                alice.send(chat.id, "still here")
                assertEquals(1, alice.fetchMessages(chat.id, null, null).size, "works after a cancel")
                alice.shutdown(); proxy.close()
            }
        }
    }
    suite.finish()
}
