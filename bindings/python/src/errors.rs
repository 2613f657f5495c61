//! One exception hierarchy, `hellocode.HelloCodeError`, and the mapping from the SDK's codes.

use hellocode_sdk::Error;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

pyo3::create_exception!(
    hellocode,
    HelloCodeError,
    PyException,
    "Base of every HelloCode error; `code` is the SDK's stable error code."
);
pyo3::create_exception!(
    hellocode,
    AuthError,
    HelloCodeError,
    "Credentials or token refused, or not authenticated."
);
pyo3::create_exception!(
    hellocode,
    NotAllowed,
    HelloCodeError,
    "The caller may not do this (not a participant, not the author)."
);
pyo3::create_exception!(
    hellocode,
    NotFound,
    HelloCodeError,
    "The chat, message or user does not exist."
);
pyo3::create_exception!(
    hellocode,
    InvalidInput,
    HelloCodeError,
    "An argument or field the server (or the SDK) refuses."
);
pyo3::create_exception!(hellocode, RateLimited, HelloCodeError, "Too many commands; retry later.");
pyo3::create_exception!(
    hellocode,
    ConnectionLost,
    HelloCodeError,
    "The connection was lost before the reply: the command may or may not have taken effect."
);
pyo3::create_exception!(
    hellocode,
    TransportError,
    HelloCodeError,
    "The connection could not be made, or broke."
);
pyo3::create_exception!(hellocode, Timeout, HelloCodeError, "No reply within the configured time.");
pyo3::create_exception!(
    hellocode,
    ClientClosed,
    HelloCodeError,
    "The client is closed, or gave up reconnecting."
);
pyo3::create_exception!(
    hellocode,
    QueueFull,
    HelloCodeError,
    "The send queue is full; wait for queued messages to be sent."
);
pyo3::create_exception!(
    hellocode,
    Expired,
    HelloCodeError,
    "A queued message was not sent within the configured expiry."
);
pyo3::create_exception!(
    hellocode,
    ProtocolError,
    HelloCodeError,
    "The client and server do not understand each other (a bug on one side)."
);
pyo3::create_exception!(
    hellocode,
    ServerError,
    HelloCodeError,
    "The server failed; retrying may help."
);
pyo3::create_exception!(
    hellocode,
    PersistenceError,
    HelloCodeError,
    "A bot's position store could not be read or written."
);

pyo3::create_exception!(
    hellocode,
    Unsupported,
    HelloCodeError,
    "The client's transport cannot do this (uploads and downloads need an HTTP address)."
);

/// The exception class for an SDK code, and the class's default `code`. Unknown codes (a newer
/// server or SDK) get the base class.
fn class_for<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyType> {
    match code {
        "invalid_credentials"
        | "invalid_token"
        | "username_taken"
        | "not_authenticated"
        | "already_authenticated" => py.get_type::<AuthError>(),
        "forbidden" | "impersonation" | "wrong_chat" => py.get_type::<NotAllowed>(),
        "not_found" => py.get_type::<NotFound>(),
        "invalid_argument" | "invalid_field" | "missing_field" | "validation_failed"
        | "frame_too_large" | "too_large" | "invalid_url" => py.get_type::<InvalidInput>(),
        "rate_limited" => py.get_type::<RateLimited>(),
        "connection_lost" => py.get_type::<ConnectionLost>(),
        "transport" => py.get_type::<TransportError>(),
        "timeout" => py.get_type::<Timeout>(),
        "closed" => py.get_type::<ClientClosed>(),
        "queue_full" => py.get_type::<QueueFull>(),
        "expired" => py.get_type::<Expired>(),
        "protocol" | "not_json" | "not_an_object" | "missing_command" | "unknown_command" => {
            py.get_type::<ProtocolError>()
        }
        "internal" | "unavailable" => py.get_type::<ServerError>(),
        "persistence" => py.get_type::<PersistenceError>(),
        "unsupported" => py.get_type::<Unsupported>(),
        _ => py.get_type::<HelloCodeError>(),
    }
}

/// An exception instance of the right class with `.code` set.
pub(crate) fn exception<'py>(
    py: Python<'py>,
    code: &str,
    message: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let value = class_for(py, code).call1((message,))?;
    value.setattr("code", code)?;
    Ok(value)
}

/// The SDK error as a Python exception.
pub(crate) fn to_py_err(py: Python<'_>, error: &Error) -> PyErr {
    match exception(py, error.code(), &error.to_string()) {
        Ok(value) => PyErr::from_value(value),
        Err(failed) => failed,
    }
}

/// The SDK error as a Python exception, from a thread that may not hold the GIL.
pub(crate) fn sdk_err(error: Error) -> PyErr {
    Python::attach(|py| to_py_err(py, &error))
}

/// An `InvalidInput` with code `invalid_argument`, for arguments refused before reaching the SDK.
pub(crate) fn invalid_argument(message: impl Into<String>) -> PyErr {
    sdk_err(Error::InvalidArgument(message.into()))
}

/// Test hook: the exception the package raises for an SDK code.
#[pyfunction]
fn _exception_for_code<'py>(
    py: Python<'py>,
    code: &str,
    message: &str,
) -> PyResult<Bound<'py, PyAny>> {
    exception(py, code, message)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let classes: [(&str, Bound<'_, PyType>, &str); 16] = [
        ("HelloCodeError", py.get_type::<HelloCodeError>(), "error"),
        ("AuthError", py.get_type::<AuthError>(), "invalid_credentials"),
        ("NotAllowed", py.get_type::<NotAllowed>(), "forbidden"),
        ("NotFound", py.get_type::<NotFound>(), "not_found"),
        ("InvalidInput", py.get_type::<InvalidInput>(), "invalid_argument"),
        ("RateLimited", py.get_type::<RateLimited>(), "rate_limited"),
        ("ConnectionLost", py.get_type::<ConnectionLost>(), "connection_lost"),
        ("TransportError", py.get_type::<TransportError>(), "transport"),
        ("Timeout", py.get_type::<Timeout>(), "timeout"),
        ("ClientClosed", py.get_type::<ClientClosed>(), "closed"),
        ("QueueFull", py.get_type::<QueueFull>(), "queue_full"),
        ("Expired", py.get_type::<Expired>(), "expired"),
        ("ProtocolError", py.get_type::<ProtocolError>(), "protocol"),
        ("ServerError", py.get_type::<ServerError>(), "internal"),
        ("PersistenceError", py.get_type::<PersistenceError>(), "persistence"),
        ("Unsupported", py.get_type::<Unsupported>(), "unsupported"),
    ];
    for (name, class, default_code) in classes {
        // A class-level default, so that `code` exists on instances made from Python too.
        class.setattr("code", default_code)?;
        m.add(name, class)?;
    }
    m.add_function(wrap_pyfunction!(_exception_for_code, m)?)?;
    Ok(())
}
