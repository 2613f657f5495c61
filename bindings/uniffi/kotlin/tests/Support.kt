// What the Kotlin test programs share: a real hellocode-server on a random port, a cuttable TCP
// proxy per user, a small JSON reader/writer (the JDK has none), and a tiny test harness.
package hellocode.tests

import java.io.File
import java.net.HttpURLConnection
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URI
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.concurrent.thread

/** The repository root: `$HELLOCODE_REPO`, else found upwards from the working directory. */
fun repoRoot(): File {
    System.getenv("HELLOCODE_REPO")?.let { return File(it) }
    var dir: File? = File("").absoluteFile
    while (dir != null) {
        if (File(dir, "bindings/conformance/scenarios").isDirectory) return dir
        dir = dir.parentFile
    }
    error("run from inside the repository or set HELLOCODE_REPO")
}

fun serverBinary(): File {
    val configured = System.getenv("HELLOCODE_SERVER_BIN")
    val binary = if (configured != null) File(configured) else File(repoRoot(), "target/debug/hellocode-server")
    check(binary.canExecute()) { "no server binary at $binary: cargo build -p hellocode-server" }
    return binary
}

/** A hellocode-server with an empty in-memory database on a random loopback port. */
class TestServer(rate: Int? = 10000, rateBurst: Int? = 10000) : AutoCloseable {
    private val dataDir = Files.createTempDirectory("hellocode-kotlin-").toFile()
    private val process: Process
    val host: String
    val port: Int
    val url: String get() = "ws://$host:$port"

    init {
        val command = mutableListOf(
            serverBinary().path, "--addr", "127.0.0.1:0", "--database", "memory", "--data-dir", dataDir.path,
        )
        // Every test client comes from 127.0.0.1 and registers many users: lift the server's
        // per-address and per-user abuse limits (login and REST rates, creations, connections).
        for (flag in listOf(
            "--login-rate-per-address", "--login-rate-per-user", "--rest-rate", "--rest-burst",
            "--languages-per-hour", "--chats-per-minute", "--participant-additions-per-minute",
            "--invitations-per-minute", "--invite-links-per-minute",
            "--max-connections-per-address", "--max-connections-per-user",
        )) command += listOf(flag, "1000000")
        rate?.let { command += listOf("--rate", it.toString()) }
        rateBurst?.let { command += listOf("--rate-burst", it.toString()) }
        process = ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start()
        val reader = process.inputStream.bufferedReader()
        val listening = Regex("listening on http://([0-9.]+):(\\d+)")
        var found: MatchResult? = null
        val lines = StringBuilder()
        while (found == null) {
            val line = reader.readLine() ?: error("the server did not start: $lines")
            lines.appendLine(line)
            found = listening.find(line)
        }
        thread(isDaemon = true) { runCatching { reader.forEachLine { } } }
        host = found.groupValues[1]
        port = found.groupValues[2].toInt()
        val deadline = System.nanoTime() + 30_000_000_000L
        while (true) {
            try {
                val connection = URI("http://$host:$port/healthz").toURL().openConnection() as HttpURLConnection
                connection.connectTimeout = 1000
                if (connection.responseCode == 200) break
            } catch (e: java.io.IOException) {
                if (System.nanoTime() > deadline) throw e
                Thread.sleep(20)
            }
        }
    }

    override fun close() {
        process.destroyForcibly()
        process.waitFor()
        dataDir.deleteRecursively()
    }
}

/** A loopback TCP proxy to the server that can cut every connection and refuse new ones. */
class Proxy(private val host: String, private val serverPort: Int) : AutoCloseable {
    private val listener = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val down = AtomicBoolean(false)
    private val open = Collections.synchronizedSet(mutableSetOf<Socket>())
    val port: Int = listener.localPort
    val url: String get() = "ws://127.0.0.1:$port"

    init {
        thread(isDaemon = true, name = "proxy-accept") {
            while (!listener.isClosed) {
                val client = try { listener.accept() } catch (e: java.io.IOException) { break }
                if (down.get()) {
                    client.close() // down: the client sees its connection fail, and retries
                    continue
                }
                thread(isDaemon = true) { link(client) }
            }
        }
    }

    private fun link(client: Socket) {
        val upstream = try { Socket(host, serverPort) } catch (e: java.io.IOException) { client.close(); return }
        open.add(client); open.add(upstream)
        if (down.get()) { cut(); return }
        fun pump(from: Socket, to: Socket) = thread(isDaemon = true) {
            try { from.getInputStream().copyTo(to.getOutputStream(), 16 * 1024) } catch (_: java.io.IOException) { }
            runCatching { from.close() }; runCatching { to.close() }
            open.remove(from); open.remove(to)
        }
        pump(client, upstream)
        pump(upstream, client)
    }

    /** Cut every open connection and refuse new ones. */
    fun cut() {
        down.set(true)
        synchronized(open) { open.toList() }.forEach { runCatching { it.close() } }
    }

    /** Accept connections again. */
    fun restore() = down.set(false)

    override fun close() {
        cut()
        listener.close()
    }
}

// ---- JSON: null, Boolean, Long, Double, String, List<Any?>, Map<String, Any?> ----

object Json {
    fun parse(text: String): Any? {
        val parser = Parser(text)
        val value = parser.value()
        parser.skipSpace()
        check(parser.pos == text.length) { "trailing text at ${parser.pos}" }
        return value
    }

    fun write(value: Any?): String = StringBuilder().also { write(value, it) }.toString()

    private fun write(value: Any?, out: StringBuilder) {
        when (value) {
            null -> out.append("null")
            is Boolean, is Long, is Int -> out.append(value.toString())
            is Double -> if (value == Math.floor(value) && !value.isInfinite() && Math.abs(value) < 1e15) out.append(value.toLong()) else out.append(value)
            is Number -> out.append(value.toString())
            is String -> {
                out.append('"')
                for (c in value) when {
                    c == '"' -> out.append("\\\"")
                    c == '\\' -> out.append("\\\\")
                    c == '\n' -> out.append("\\n")
                    c < ' ' -> out.append(String.format("\\u%04x", c.code))
                    else -> out.append(c)
                }
                out.append('"')
            }
            is Map<*, *> -> {
                out.append('{')
                value.entries.forEachIndexed { i, (k, v) ->
                    if (i > 0) out.append(',')
                    write(k.toString(), out); out.append(':'); write(v, out)
                }
                out.append('}')
            }
            is List<*> -> {
                out.append('[')
                value.forEachIndexed { i, v -> if (i > 0) out.append(','); write(v, out) }
                out.append(']')
            }
            else -> write(value.toString(), out)
        }
    }

    private class Parser(val s: String) {
        var pos = 0
        fun skipSpace() { while (pos < s.length && s[pos].isWhitespace()) pos++ }
        fun value(): Any? {
            skipSpace()
            check(pos < s.length) { "unexpected end" }
            return when (s[pos]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> num()
            }
        }
        fun literal(word: String, v: Any?): Any? {
            check(s.startsWith(word, pos)) { "bad literal at $pos" }
            pos += word.length
            return v
        }
        fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            pos++
            skipSpace()
            if (s[pos] == '}') { pos++; return out }
            while (true) {
                skipSpace()
                val key = str()
                skipSpace(); check(s[pos] == ':') { "expected : at $pos" }; pos++
                out[key] = value()
                skipSpace()
                when (s[pos++]) { ',' -> continue; '}' -> return out; else -> error("expected , or } at $pos") }
            }
        }
        fun arr(): List<Any?> {
            val out = ArrayList<Any?>()
            pos++
            skipSpace()
            if (s[pos] == ']') { pos++; return out }
            while (true) {
                out.add(value())
                skipSpace()
                when (s[pos++]) { ',' -> continue; ']' -> return out; else -> error("expected , or ] at $pos") }
            }
        }
        fun str(): String {
            check(s[pos] == '"') { "expected string at $pos" }
            pos++
            val out = StringBuilder()
            while (true) {
                val c = s[pos++]
                when (c) {
                    '"' -> return out.toString()
                    '\\' -> when (val e = s[pos++]) {
                        'n' -> out.append('\n'); 't' -> out.append('\t'); 'r' -> out.append('\r')
                        'b' -> out.append('\b'); 'f' -> out.append('\u000c')
                        'u' -> { out.append(s.substring(pos, pos + 4).toInt(16).toChar()); pos += 4 }
                        else -> out.append(e)
                    }
                    else -> out.append(c)
                }
            }
        }
        fun num(): Any {
            val start = pos
            while (pos < s.length && (s[pos].isDigit() || s[pos] in "+-.eE")) pos++
            val text = s.substring(start, pos)
            return text.toLongOrNull() ?: text.toDouble()
        }
    }
}

// ---- a tiny test harness ----

class Failed(message: String) : AssertionError(message)

fun fail(message: String): Nothing = throw Failed(message)

fun <T> assertEquals(expected: T, actual: T, what: String = "") {
    if (expected != actual) fail("${if (what.isEmpty()) "" else "$what: "}expected $expected, got $actual")
}

fun assertTrue(condition: Boolean, what: String) {
    if (!condition) fail(what)
}

class Suite(private val name: String) {
    private var passed = 0
    private val failures = mutableListOf<String>()

    fun test(title: String, body: () -> Unit) {
        val started = System.nanoTime()
        try {
            body()
            passed++
            println("ok   $title (${(System.nanoTime() - started) / 1_000_000} ms)")
        } catch (e: Throwable) {
            failures.add(title)
            println("FAIL $title: $e")
            e.printStackTrace(System.out)
        }
    }

    /** Print the summary and exit with 1 if anything failed. */
    fun finish(): Nothing {
        println("$name: ${passed} passed, ${failures.size} failed")
        if (failures.isNotEmpty()) println("failed: $failures")
        kotlin.system.exitProcess(if (failures.isEmpty()) 0 else 1)
    }
}
