//! `GET /reports/history.csv`: the filtered delivery history as CSV,
//! streamed page by page (keyset), so a large export never sits in memory.
//! `GET /jobs/{id}/errors.csv`: what a job could not do, by line, the same
//! way.

use app::api::ssr::{AppState, signed_in_user_id};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use engine::model::{User, WebhookTitle};
use engine::reports::{DeliveryState, HistoryQuery};
use engine::store::{DeliveryFilter, Store};
use http::{StatusCode, header};
use tower_sessions::Session;

/// Rows read per query while streaming.
const PAGE: i64 = 500;

const COLUMNS: [&str; 11] = [
    "created_at",
    "delivery_id",
    "webhook_id",
    "webhook",
    "event_id",
    "event_type",
    "record_id",
    "record",
    "status",
    "attempts",
    "last_response",
];

pub async fn history_csv(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<HistoryQuery>,
) -> Response {
    let Some(user) = signed_in(&state, &session).await else {
        return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
    };
    let mut filter = match DeliveryFilter::from_query(&query, chrono::Utc::now(), PAGE) {
        Ok(filter) => filter,
        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, e.message).into_response(),
    };
    filter.cursor = None;
    filter.prev = None;
    let titles = match state.store.webhook_titles(&user.account_id).await {
        Ok(titles) => titles,
        Err(e) => {
            tracing::error!(error = %e, "export: reading webhook titles failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The export failed; it is logged.",
            )
                .into_response();
        }
    };
    let header_row = csv_bytes(|w| w.write_record(COLUMNS));
    let pages = Pages {
        store: state.store.clone(),
        account_id: user.account_id,
        filter,
        titles,
        done: false,
    };
    let rows = futures_util::stream::unfold(pages, |mut pages| async move {
        let chunk = pages.next().await?;
        Some((chunk, pages))
    });
    let body = futures_util::stream::StreamExt::chain(
        futures_util::stream::iter([Ok::<Bytes, std::io::Error>(header_row)]),
        rows,
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"deliveries.csv\"",
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// The user this session is signed in as, if any.
pub async fn signed_in(state: &AppState, session: &Session) -> Option<User> {
    match signed_in_user_id(session, state.session_lifetime).await {
        Ok(Some(id)) => state.store.user(&id).await.ok().flatten(),
        _ => None,
    }
}

/// A job's errors as CSV (`line,reason`), a page at a time.
pub async fn job_errors_csv(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let Some(user) = signed_in(&state, &session).await else {
        return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
    };
    match state.store.job(&user.account_id, &id).await {
        Ok(_) => {}
        Err(engine::Error::NotFound) => {
            return (StatusCode::NOT_FOUND, "That job does not exist.").into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "export: reading a job failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The export failed; it is logged.",
            )
                .into_response();
        }
    }
    let header_row = csv_bytes(|w| w.write_record(["line", "reason"]));
    let start = (
        state.store.clone(),
        user.account_id,
        id.clone(),
        Some(0_i64),
    );
    let rows = futures_util::stream::unfold(start, |(store, account, job, after)| async move {
        let after = after?;
        match store.job_errors(&account, &job, after, PAGE).await {
            Ok(errors) => {
                let next = (errors.len() as i64 == PAGE)
                    .then(|| errors.last().map(|e| e.line))
                    .flatten();
                let chunk = csv_bytes(|w| {
                    for e in &errors {
                        w.write_record([e.line.to_string(), e.reason.clone()])?;
                    }
                    Ok(())
                });
                Some((Ok(chunk), (store, account, job, next)))
            }
            Err(e) => {
                tracing::error!(error = %e, "export: reading a job's errors failed");
                Some((
                    Err(std::io::Error::other("the export failed")),
                    (store, account, job, None),
                ))
            }
        }
    });
    let body = futures_util::stream::StreamExt::chain(
        futures_util::stream::iter([Ok::<Bytes, std::io::Error>(header_row)]),
        rows,
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}-errors.csv\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// The export's position in the history.
struct Pages {
    store: Store,
    account_id: String,
    filter: DeliveryFilter,
    titles: Vec<WebhookTitle>,
    done: bool,
}

impl Pages {
    /// The next page as CSV rows; `None` after the last one. A failure part
    /// way ends the stream with an error, so the download is visibly cut.
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        let page = match self
            .store
            .list_deliveries(&self.account_id, &self.filter)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %e, "export: reading deliveries failed");
                self.done = true;
                return Some(Err(std::io::Error::other("the export failed")));
            }
        };
        self.done = page.next_cursor.is_none();
        self.filter.cursor = page.next_cursor;
        let titles = &self.titles;
        Some(Ok(csv_bytes(|w| {
            for d in &page.data {
                w.write_record(row(d, titles))?;
            }
            Ok(())
        })))
    }
}

fn row(d: &DeliveryState, titles: &[WebhookTitle]) -> [String; 11] {
    let title = WebhookTitle::of(titles, &d.webhook_id)
        .unwrap_or_default()
        .to_string();
    let last = match (d.last_response_status, &d.last_error) {
        (Some(status), _) => status.to_string(),
        (None, Some(error)) => error.clone(),
        (None, None) => String::new(),
    };
    [
        d.created_at.to_rfc3339(),
        d.id.clone(),
        d.webhook_id.clone(),
        inert(title),
        d.event_id.clone(),
        d.event_type.clone(),
        inert(d.record_id.clone().unwrap_or_default()),
        inert(d.record_label.clone().unwrap_or_default()),
        d.status.to_string(),
        d.attempts.to_string(),
        inert(last),
    ]
}

/// Text from CRM records or receivers that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@` first) gets a leading apostrophe.
fn inert(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// Runs `write` on a CSV writer over a buffer and returns the bytes.
fn csv_bytes(write: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if let Err(e) = write(&mut writer) {
        tracing::error!(error = %e, "export: writing CSV failed");
    }
    Bytes::from(writer.into_inner().unwrap_or_default())
}
