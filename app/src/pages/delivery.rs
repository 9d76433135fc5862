//! One delivery: the event, then every attempt's request and response;
//! admins can resend it. Also the progress page of a retry-all run.

use engine::model::Role;
use engine::reports::{AttemptRecord, DeliveryState, RetryRun};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{ErrorPanel, Layout, StatusBadge, error_message, fmt_time, poll_while};
use crate::api::{ResendDelivery, delivery_detail, retry_run_progress};

#[component]
pub fn DeliveryPage() -> impl IntoView {
    let params = use_params_map();
    let resend = ServerAction::<ResendDelivery>::new();
    let data = Resource::new(
        move || {
            (
                params.get().get("id").unwrap_or_default(),
                resend.version().get(),
            )
        },
        |(id, _)| delivery_detail(id),
    );
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        let admin = view.user.role == Role::Admin;
                        let history = format!("/reports/history?webhook={}", view.delivery.webhook_id);
                        let id = view.delivery.id.clone();
                        view! {
                            <Layout user=view.user>
                                <p class="crumbs"><a href="/reports/history">"Delivery history"</a>" › "<a href=history>{view.webhook_title.clone()}</a></p>
                                <div class="page-head">
                                    <h1>{format!("Delivery {id}")}</h1>
                                    {admin.then(|| view! { <ResendButton id resend /> })}
                                </div>
                                <ResendResult resend />
                                <DeliveryFacts delivery=view.delivery webhook_title=view.webhook_title />
                                <h2 class="section">"Event"</h2>
                                <pre class="code" data-testid="envelope">{view.envelope}</pre>
                                <h2 class="section">"Attempts"</h2>
                                {if view.attempts.is_empty() {
                                    view! { <p class="muted">"No attempt yet."</p> }.into_any()
                                } else {
                                    view.attempts.into_iter().map(|a| view! { <Attempt attempt=a /> }).collect_view().into_any()
                                }}
                            </Layout>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ResendButton(id: String, resend: ServerAction<ResendDelivery>) -> impl IntoView {
    view! {
        <ActionForm action=resend>
            <input type="hidden" name="id" value=id />
            <button type="submit" class="primary" data-testid="resend"
                disabled=move || resend.pending().get()>
                {move || if resend.pending().get() { "Resending…" } else { "Resend now" }}
            </button>
        </ActionForm>
    }
}

/// What the last resend got, or why it could not be made.
#[component]
fn ResendResult(resend: ServerAction<ResendDelivery>) -> impl IntoView {
    move || {
        resend.value().get().map(|r| match r {
            Ok(state) => {
                let outcome = state.last_outcome().unwrap_or_else(|| "no answer yet".into());
                view! { <p class="notice" role="status" data-testid="resend-result">{format!("Resent: {outcome}. The delivery is now {}.", state.status)}</p> }
                    .into_any()
            }
            Err(e) => view! { <p class="form-error" role="alert" data-testid="resend-result">{error_message(&e)}</p> }
                .into_any(),
        })
    }
}

#[component]
fn DeliveryFacts(delivery: DeliveryState, webhook_title: String) -> impl IntoView {
    let d = delivery;
    let record = d.record_text().unwrap_or_else(|| "—".into());
    let next_retry = match d.next_attempt_at {
        Some(at) if d.status.is_open() => fmt_time(at),
        _ => "none".to_string(),
    };
    view! {
        <dl class="facts" data-testid="delivery-facts">
            <dt>"Status"</dt><dd><StatusBadge status=d.status /></dd>
            <dt>"Webhook"</dt><dd>{webhook_title}</dd>
            <dt>"Event"</dt><dd>{format!("{} ({})", d.event_type, d.event_id)}</dd>
            <dt>"Record"</dt><dd>{record}</dd>
            <dt>"Created"</dt><dd>{fmt_time(d.created_at)}</dd>
            <dt>"Attempts"</dt><dd data-testid="attempt-count">{d.attempts}</dd>
            <dt>"Next retry"</dt>
            <dd data-testid="next-retry">{next_retry}</dd>
        </dl>
    }
}

#[component]
fn Attempt(attempt: AttemptRecord) -> impl IntoView {
    let outcome = match (&attempt.response, &attempt.error) {
        (Some(r), _) => format!("HTTP {}", r.status),
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".into(),
    };
    let ok = attempt
        .response
        .as_ref()
        .is_some_and(|r| (200..300).contains(&r.status));
    view! {
        <section class="attempt" data-testid="attempt" aria-labelledby=format!("attempt-{}", attempt.attempt)>
            <h3 id=format!("attempt-{}", attempt.attempt)>
                {format!("Attempt {} · {} · {} ms · ", attempt.attempt, fmt_time(attempt.at), attempt.duration_ms)}
                <span class=if ok { "badge on" } else { "badge bad" } data-testid="attempt-outcome">{outcome}</span>
            </h3>
            <div class="exchange">
                <div>
                    <h4>"Request"</h4>
                    <p class="mono" data-testid="attempt-request-line">{format!("{} {}", attempt.request.method, attempt.request.url)}</p>
                    <Headers headers=attempt.request.headers testid="request-headers" />
                    <pre class="code" data-testid="request-body">{attempt.request.body.unwrap_or_default()}</pre>
                </div>
                <div>
                    <h4>"Response"</h4>
                    {match attempt.response {
                        Some(r) => view! {
                            <p class="mono">{format!("HTTP {}", r.status)}</p>
                            {attempt.error.map(|note| view! { <p class="form-error" data-testid="attempt-error">{note}</p> })}
                            <Headers headers=r.headers testid="response-headers" />
                            {r.body_base64.is_some().then(|| view! {
                                <p class="hint" data-testid="binary-body">"Not plain text: shown with ␀ for NUL and � for bytes that are not UTF-8. The API gives the exact bytes (body_base64)."</p>
                            })}
                            <pre class="code" data-testid="response-body">{r.body}</pre>
                        }
                            .into_any(),
                        None => view! {
                            <p class="form-error" data-testid="attempt-error">{attempt.error.unwrap_or_else(|| "No response.".into())}</p>
                        }
                            .into_any(),
                    }}
                </div>
            </div>
        </section>
    }
}

#[component]
fn Headers(headers: Vec<(String, String)>, testid: &'static str) -> impl IntoView {
    view! {
        <table class="headers" data-testid=testid>
            <tbody>
                {headers
                    .into_iter()
                    .map(|(name, value)| view! { <tr><th scope="row">{name}</th><td class="mono">{value}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// A retry-all run: a progress bar that refreshes itself (without
/// JavaScript too) until the run is done, then the summary.
#[component]
pub fn RetryRunPage() -> impl IntoView {
    let params = use_params_map();
    let tick = RwSignal::new(0u32);
    let data = Resource::new(
        move || (params.get().get("id").unwrap_or_default(), tick.get()),
        |(id, _)| retry_run_progress(id),
    );
    poll_while(tick, move || {
        data.get_untracked()
            .and_then(Result::ok)
            .is_none_or(|(_, run)| !run.finished())
    });
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((user, run)) => view! { <Layout user><RunProgress run /></Layout> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RunProgress(run: RetryRun) -> impl IntoView {
    let history = |status: &str| {
        format!(
            "/reports/history?webhook={}&{}&status={status}",
            run.webhook_id,
            run.range.as_query()
        )
    };
    let finished = run.finished();
    view! {
        {(!finished).then(|| view! { <noscript><meta http-equiv="refresh" content="2" /></noscript> })}
        <p class="crumbs"><a href="/reports">"Webhooks report"</a></p>
        <h1>{format!("Retry all failed: {}", run.webhook_title)}</h1>
        <p>{format!("Failed deliveries created {} – {} (UTC), started {}.", run.range.first_day(), run.range.last_day(), fmt_time(run.created_at))}</p>
        <div class="progress-box" data-testid="retry-progress" data-finished=finished.to_string()>
            <label for="retry-bar">
                {if finished {
                    "Done".to_string()
                } else if run.marking_done {
                    format!("Sending: {} of {} attempted", run.sent(), run.marked)
                } else {
                    format!("Collecting failed deliveries: {} so far", run.marked)
                }}
            </label>
            <progress id="retry-bar" max="100" value=run.percent().to_string()>{format!("{}%", run.percent())}</progress>
        </div>
        {finished.then(|| view! {
            <div class="notice" role="status" data-testid="retry-summary">
                <p>
                    <strong>{format!("{} sent", run.sent())}</strong>
                    {format!(": {} succeeded, {} failed.", run.succeeded, run.failed)}
                </p>
                <p>
                    <a href=history("succeeded") data-testid="summary-succeeded">"See the succeeded ones"</a>
                    " · "
                    <a href=history("failed") data-testid="summary-failed">"See the failed ones"</a>
                </p>
            </div>
        })}
    }
}
