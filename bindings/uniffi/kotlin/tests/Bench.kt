// The cost of a Kotlin call over the same call made in Rust, in one process against one local
// server: `ping()` round trips from Kotlin vs `measurePings` (the same loop inside the library),
// and a synchronous call (`username()`). Prints one line per figure (see BENCHMARKS.md).
package hellocode.tests

import kotlinx.coroutines.runBlocking
import uniffi.hellocode.*
import uniffi.hellocode.connect as connectClient

fun main(args: Array<String>) {
    val pings = args.getOrNull(0)?.toInt() ?: 2000
    val rounds = 3
    TestServer().use { server ->
        runBlocking {
            val name = "bench_${System.nanoTime()}"
            val client = connectClient(server.url, Credentials.Register(name, "$name@example.org", "correct horse battery staple"), ClientConfig())
            repeat(200) { client.ping() } // warm up both sides (JIT, connection)
            measurePings(client, 200u)
            var kotlinBest = Double.MAX_VALUE
            var rustBest = Double.MAX_VALUE
            repeat(rounds) {
                val started = System.nanoTime()
                repeat(pings) { client.ping() }
                kotlinBest = minOf(kotlinBest, (System.nanoTime() - started) / 1e6)
                rustBest = minOf(rustBest, measurePings(client, pings.toUInt()))
            }
            val kotlinUs = kotlinBest * 1000 / pings
            val rustUs = rustBest * 1000 / pings
            println("ping round trip from Kotlin: %.1f µs (best of %d runs of %d)".format(kotlinUs, rounds, pings))
            println("ping round trip from Rust:   %.1f µs (the same loop inside the library)".format(rustUs))
            println("cost of one async Kotlin call: %.1f µs (%.0f%% over Rust)".format(kotlinUs - rustUs, (kotlinUs / rustUs - 1) * 100))
            val calls = 200_000
            repeat(calls) { client.username() }
            val started = System.nanoTime()
            repeat(calls) { client.username() }
            println("one synchronous call (username()): %.2f µs".format((System.nanoTime() - started) / 1e3 / calls))
            client.shutdown()
        }
    }
}
