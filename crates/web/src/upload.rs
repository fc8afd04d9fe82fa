//! File uploads, one way for every module: a page form's multipart fields
//! (the file in the field `file`), and an API call's raw body, both held to
//! [`UPLOAD_LIMIT`](crate::state::UPLOAD_LIMIT).

use std::collections::HashMap;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::response::Response;
use munishare_platform::Error;

use crate::state::UPLOAD_LIMIT;

/// A page's upload form, read whole.
#[derive(Debug, Default)]
pub struct UploadForm {
    /// The text fields, by name.
    pub fields: HashMap<String, String>,
    /// The file of the field `file`: its name (`upload` when the browser gave
    /// none) and bytes; None when no file, or an empty one, was chosen.
    pub file: Option<(String, Bytes)>,
    /// Every non-empty file of the field `file`, in order (a `multiple` input
    /// sends several); the first is also `file`.
    pub files: Vec<(String, Bytes)>,
}

/// Reads a multipart form; an upload cut short is an error on the field `file`.
pub async fn read_form(mut form: Multipart) -> Result<UploadForm, Error> {
    let broken = |e: axum::extract::multipart::MultipartError| {
        Error::invalid("file", format!("the upload did not arrive whole: {e}"))
    };
    let mut out = UploadForm::default();
    while let Some(field) = form.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("upload").to_owned();
            let bytes = field.bytes().await.map_err(broken)?;
            if !bytes.is_empty() {
                if out.file.is_none() {
                    out.file = Some((file_name.clone(), bytes.clone()));
                }
                out.files.push((file_name, bytes));
            }
        } else {
            out.fields.insert(name, field.text().await.map_err(broken)?);
        }
    }
    Ok(out)
}

/// An API upload's body, or the 413 problem that names the limit.
pub async fn read_body(body: Body) -> Result<Bytes, Response> {
    to_bytes(body, UPLOAD_LIMIT).await.map_err(|_| {
        crate::error::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("the file is larger than {} MiB", UPLOAD_LIMIT >> 20),
            Some("file".into()),
        )
    })
}
