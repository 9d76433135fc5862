//! The API's one error shape, `{"error": {"code", "message", "field"?},
//! "errors"?: [...]}`, the statuses engine errors map to, and the error
//! answers every route documents.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::validate::FieldError;
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// An API failure: a status and the error object.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            errors: vec![FieldError::new("", code, message)],
        }
    }

    /// 503 with `Retry-After`: too much is under way to take this now.
    pub fn busy() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Postback is busy; try again in a moment (with the same idempotency key).",
        )
    }
}

/// Every error: the first problem, and all of them when there are several.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ErrorObject>>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable and machine-readable, e.g. `invalid_url`.
    pub code: String,
    pub message: String,
    /// The JSON path of the field at fault, e.g. `mapping[2].key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<&FieldError> for ErrorObject {
    fn from(e: &FieldError) -> Self {
        ErrorObject {
            code: e.code.clone(),
            message: e.message.clone(),
            field: Some(e.field.clone()).filter(|f| !f.is_empty()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self
            .errors
            .first()
            .map(ErrorObject::from)
            .unwrap_or(ErrorObject {
                code: "internal".into(),
                message: String::new(),
                field: None,
            });
        let errors =
            (self.errors.len() > 1).then(|| self.errors.iter().map(ErrorObject::from).collect());
        let mut response = (self.status, Json(ErrorBody { error, errors })).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

impl From<engine::Error> for ApiError {
    fn from(e: engine::Error) -> Self {
        match e {
            engine::Error::Validation(errors) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                errors,
            },
            engine::Error::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such resource in this account.",
            ),
            engine::Error::Busy => ApiError::busy(),
            other => {
                tracing::error!(error = %other, "API request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on the server; it is logged.",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    /// A body that is JSON but not of the right shape names the field at
    /// fault; one that is not JSON at all says so.
    fn from(e: JsonRejection) -> Self {
        let mut source = std::error::Error::source(&e);
        while let Some(error) = source {
            if let Some(wrong) = error.downcast_ref::<PathError>()
                && wrong.inner().classify() == serde_json::error::Category::Data
            {
                return ApiError::wrong_field(wrong, StatusCode::BAD_REQUEST, "invalid_json");
            }
            source = error.source();
        }
        let code = match e {
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            _ => "invalid_json",
        };
        ApiError::new(StatusCode::BAD_REQUEST, code, e.body_text())
    }
}

/// A deserialization failure with the path where it happened.
pub type PathError = serde_path_to_error::Error<serde_json::Error>;

impl ApiError {
    /// An error whose `field` is the JSON path of the value at fault
    /// (`mapping[2].key`; for a missing field, where it belongs).
    pub fn wrong_field(error: &PathError, status: StatusCode, code: &str) -> Self {
        let inner = error.inner().to_string();
        // serde_json ends its messages with the position; the field says where.
        let message = inner
            .rsplit_once(" at line ")
            .map_or(inner.as_str(), |(m, _)| m)
            .to_string();
        let parent = error.path().to_string();
        let parent = if parent == "." { String::new() } else { parent };
        // A missing field is named by the message; an unknown one (a
        // misspelling) ends the path already.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'));
        let field = match (missing, parent.is_empty()) {
            (Some(name), true) => name.to_string(),
            (Some(name), false) => format!("{parent}.{name}"),
            (None, _) => parent,
        };
        let shown = if field.is_empty() {
            message
        } else {
            format!("{field}: {message}")
        };
        ApiError {
            status,
            errors: vec![FieldError::new(&field, code, shown)],
        }
    }
}

/// What every route may answer: a body or query it cannot read, no valid
/// key.
#[derive(IntoResponses)]
pub enum Refused {
    #[response(status = 400, description = "The body is not JSON of the right shape")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "No valid API key")]
    Unauthorized(ErrorBody),
}

/// A route about one resource: it is not in this account.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such resource in this account")]
pub struct NotFound(pub ErrorBody);
