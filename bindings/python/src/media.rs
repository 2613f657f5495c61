//! Files: uploads and downloads with a Python progress callback, `hellocode.Download`, and
//! sending a message with attachments — what the async and the blocking client share.

use std::future::Future;
use std::sync::Arc;

use hellocode_sdk::{ChatId, Client, Download, Progress, Result};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::types::{PyAttachment, PyMessage};

/// A downloaded file: its bytes and the type the server detected when it was uploaded.
#[pyclass(name = "Download", module = "hellocode", frozen)]
pub(crate) struct PyDownload(Download);

#[pymethods]
impl PyDownload {
    /// The media type, e.g. `image/png` or `text/plain`.
    #[getter]
    fn content_type(&self) -> &str {
        &self.0.content_type
    }

    /// The file's bytes.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.data)
    }

    fn __len__(&self) -> usize {
        self.0.data.len()
    }

    fn __repr__(&self) -> String {
        format!("Download(content_type={:?}, size={})", self.0.content_type, self.0.data.len())
    }
}

/// A Python callable `(done, total) -> None` as the SDK's progress callback. It is called on
/// the SDK's threads (as listeners are); an exception it raises is reported as unraisable and
/// the transfer goes on.
fn progress(callback: Option<Py<PyAny>>) -> Option<Progress> {
    let callback = callback?;
    Some(Arc::new(move |done: u64, total: u64| {
        // Waiting for the GIL must not stall the runtime's other tasks.
        tokio::task::block_in_place(|| {
            Python::attach(|py| {
                if let Err(error) = callback.call1(py, (done, total)) {
                    error.write_unraisable(py, Some(callback.bind(py)));
                }
            })
        })
    }))
}

pub(crate) fn upload_attachment(
    client: &Client,
    chat_id: i64,
    name: String,
    data: Vec<u8>,
    callback: Option<Py<PyAny>>,
) -> impl Future<Output = Result<PyAttachment>> + Send + 'static {
    let upload = client.upload_attachment(ChatId(chat_id), name, data, progress(callback));
    async move { upload.await.map(PyAttachment) }
}

pub(crate) fn upload_avatar(
    client: &Client,
    name: String,
    data: Vec<u8>,
    callback: Option<Py<PyAny>>,
) -> impl Future<Output = Result<PyAttachment>> + Send + 'static {
    let upload = client.upload_avatar(name, data, progress(callback));
    async move { upload.await.map(PyAttachment) }
}

pub(crate) fn download(
    client: &Client,
    media: String,
    callback: Option<Py<PyAny>>,
) -> impl Future<Output = Result<PyDownload>> + Send + 'static {
    let download = client.download(media, progress(callback));
    async move { download.await.map(PyDownload) }
}

pub(crate) fn download_thumbnail(
    client: &Client,
    media: String,
    callback: Option<Py<PyAny>>,
) -> impl Future<Output = Result<PyDownload>> + Send + 'static {
    let download = client.download_thumbnail(media, progress(callback));
    async move { download.await.map(PyDownload) }
}

pub(crate) fn send_with_attachments(
    client: &Client,
    chat_id: i64,
    text: String,
    attachments: Vec<String>,
) -> impl Future<Output = Result<PyMessage>> + Send + 'static {
    let sent = client.send_with_attachments(ChatId(chat_id), text, attachments);
    async move { sent.await.map(PyMessage) }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDownload>()
}
