// Hand-written Kotlin on top of the generated bindings (package uniffi.hellocode): events and
// history as Flows, and the error's code on the base exception class.
package uniffi.hellocode

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.channels.Channel

/**
 * Every event of this client from now on, as a cold [Flow]: each collector adds a listener
 * when it starts collecting and removes it when it stops. Events are buffered without bound
 * (the library never waits for the app), in order; the flow completes after the client is
 * shut down (`ConnectionChanged(Closed)` is the last event).
 *
 * Events are produced on the library's threads; collect on any dispatcher (for UI state,
 * `flowOn`/`collect` in a `Dispatchers.Main` scope such as `lifecycleScope`).
 */
fun Client.eventFlow(): Flow<Event> = callbackFlow {
    val handle = addListener(object : EventListener {
        override fun onEvent(event: Event) {
            trySend(event)
            val state = (event as? Event.ConnectionChanged)?.state
            if (state is ConnectionState.Closed) channel.close()
        }
    })
    awaitClose {
        handle.remove()
        handle.close()
    }
}.buffer(Channel.UNLIMITED)

/** The events of an [EventStream] as a [Flow] (one collector: the stream is consumed). */
fun EventStream.asFlow(): Flow<Event> = flow {
    while (true) {
        emit(next() ?: break)
    }
}

/** A chat's history, newest first, as a [Flow] fetching a page at a time (one collector). */
fun History.asFlow(): Flow<Message> = flow {
    while (true) {
        emit(next() ?: break)
    }
}

/** The SDK's stable error code (`forbidden`, `not_found`, `timeout`, ...). */
val HelloCodeException.code: String
    get() = when (this) {
        is HelloCodeException.Auth -> code
        is HelloCodeException.NotAllowed -> code
        is HelloCodeException.NotFound -> code
        is HelloCodeException.InvalidInput -> code
        is HelloCodeException.RateLimited -> code
        is HelloCodeException.ConnectionLost -> code
        is HelloCodeException.Transport -> code
        is HelloCodeException.Timeout -> code
        is HelloCodeException.Closed -> code
        is HelloCodeException.QueueFull -> code
        is HelloCodeException.Expired -> code
        is HelloCodeException.Protocol -> code
        is HelloCodeException.Persistence -> code
        is HelloCodeException.Unsupported -> code
        is HelloCodeException.Other -> code
    }

/** What happened, for logs. */
val HelloCodeException.detail: String
    get() = when (this) {
        is HelloCodeException.Auth -> detail
        is HelloCodeException.NotAllowed -> detail
        is HelloCodeException.NotFound -> detail
        is HelloCodeException.InvalidInput -> detail
        is HelloCodeException.RateLimited -> detail
        is HelloCodeException.ConnectionLost -> detail
        is HelloCodeException.Transport -> detail
        is HelloCodeException.Timeout -> detail
        is HelloCodeException.Closed -> detail
        is HelloCodeException.QueueFull -> detail
        is HelloCodeException.Expired -> detail
        is HelloCodeException.Protocol -> detail
        is HelloCodeException.Persistence -> detail
        is HelloCodeException.Unsupported -> detail
        is HelloCodeException.Other -> detail
    }
