//! `POST /contacts/import`: the console's CSV upload, a multipart form a
//! browser sends without JavaScript. An admin's file becomes a draft
//! import (its rows stored, bad ones reported by line) and the browser
//! goes on to its mapping page; a file that cannot be read goes back to
//! the upload page with the reason.

use app::api::ssr::AppState;
use axum::extract::State;
use axum::extract::multipart::Multipart;
use axum::response::{IntoResponse, Redirect, Response};
use engine::model::{Actor, Role};
use engine::store::imports::ImportInput;
use http::StatusCode;
use tower_sessions::Session;

use crate::export::signed_in;

/// The largest file the console takes (as the API).
pub const MAX_UPLOAD_BYTES: usize = crate::api::jobs::MAX_IMPORT_BYTES;

pub async fn upload_import(
    State(state): State<AppState>,
    session: Session,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(user) = signed_in(&state, &session).await else {
        return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
    };
    if user.role != Role::Admin {
        return (
            StatusCode::FORBIDDEN,
            "Your role (support) can read contacts but not import them.",
        )
            .into_response();
    }
    let back = |message: &str| {
        Redirect::to(&format!(
            "/contacts/import?{}",
            engine::reports::query_pair("error", message)
        ))
        .into_response()
    };
    let mut form = match form {
        Ok(form) => form,
        Err(_) => return back("Choose a CSV file to upload."),
    };
    let mut file = None;
    let mut input = ImportInput::default();
    loop {
        match form.next_field().await {
            Ok(Some(part)) if part.name() == Some("file") => {
                input.file_name = part
                    .file_name()
                    .map(|n| n.chars().take(200).collect::<String>())
                    .filter(|n| !n.is_empty());
                match part.bytes().await {
                    Ok(bytes) => file = Some(bytes),
                    Err(e) => {
                        return back(&format!(
                            "The upload failed ({}); files up to 64 MB are taken.",
                            e.body_text()
                        ));
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return back(&format!("The upload failed: {}.", e.body_text())),
        }
    }
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return back("Choose a CSV file to upload.");
    };
    let actor = Some(Actor {
        id: user.id.clone(),
        name: user.email.clone(),
    });
    match state
        .store
        .create_import(&user.account_id, &input, &file, actor, true)
        .await
    {
        Ok(job) => {
            tracing::info!(user = %user.id, job = %job.id, rows = job.total, "import uploaded");
            Redirect::to(&format!("/contacts/import/{}", job.id)).into_response()
        }
        Err(engine::Error::Validation(errors)) => back(
            &errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Err(e) => {
            tracing::error!(error = %e, "import upload failed");
            back("The upload could not be stored; try again.")
        }
    }
}
