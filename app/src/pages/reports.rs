//! The webhooks report: a date range (kept in the URL), the chart of
//! deliveries per hour or day, and one row per webhook with its counts;
//! admins can retry a webhook's failed deliveries of the range from here.

use engine::model::Role;
use engine::reports::{Preset, Range, RangeQuery, Report, RetryRun, WebhookCounts};
use engine::validate::FieldError;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::chart::{bar_label, svg};
use super::{DateField, ErrorPanel, Layout, fmt_time};
use crate::api::{RetryAllFailed, webhooks_report};

#[component]
pub fn ReportPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || {
            let q = query.get();
            (
                RangeQuery {
                    range: q.get("range"),
                    from: q.get("from"),
                    to: q.get("to"),
                },
                q.get("webhook"),
            )
        },
        |(range, chart)| webhooks_report(range, chart),
    );
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        let q = query.get_untracked();
                        let asked = RangeQuery {
                            range: q.get("range"),
                            from: q.get("from"),
                            to: q.get("to"),
                        };
                        let chart_for = q.get("webhook").unwrap_or_default();
                        let admin = view.user.role == Role::Admin;
                        let error = view.report.as_ref().err().cloned();
                        let titles: Vec<(String, String)> = view
                            .report
                            .as_ref()
                            .map(|r| r.rows.iter().map(|w| (w.webhook_id.clone(), w.title.clone())).collect())
                            .unwrap_or_default();
                        view! {
                            <Layout user=view.user>
                                <h1>"Webhooks report"</h1>
                                <RangeForm asked chart_for titles error />
                                {match view.report {
                                    Ok(report) => view! { <ReportBody report admin /> }.into_any(),
                                    Err(_) => ().into_any(),
                                }}
                                <RetryRuns runs=view.runs />
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

/// The range and chart choices: a plain GET form, so it works without
/// JavaScript and every view has a link.
#[component]
fn RangeForm(
    asked: RangeQuery,
    chart_for: String,
    titles: Vec<(String, String)>,
    error: Option<FieldError>,
) -> impl IntoView {
    let preset = asked.preset();
    let field_error = move |field: &str| {
        error
            .as_ref()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let from_error = field_error("from");
    let to_error = field_error("to");
    view! {
        <form method="get" action="/reports" class="filters" data-testid="range-form">
            <div>
                <label for="range">"Date range"</label>
                <select id="range" name="range" data-testid="range-preset">
                    {Preset::ALL
                        .into_iter()
                        .map(|p| view! { <option value=p.key() selected=p == preset>{p.label()}</option> })
                        .collect_view()}
                </select>
            </div>
            <DateField id="from" name="from" label="From (custom)" testid="range-from"
                value=asked.from.clone().unwrap_or_default() error=from_error />
            <DateField id="to" name="to" label="To (custom)" testid="range-to"
                value=asked.to.clone().unwrap_or_default() error=to_error />
            <div>
                <label for="chart-webhook">"Chart"</label>
                <select id="chart-webhook" name="webhook" data-testid="chart-webhook">
                    <option value="">"All webhooks"</option>
                    {titles
                        .into_iter()
                        .map(|(id, title)| {
                            let selected = id == chart_for;
                            view! { <option value=id selected=selected>{title}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <div class="actions">
                <button type="submit" class="primary" data-testid="range-apply">"Show"</button>
            </div>
        </form>
    }
}

#[component]
fn ReportBody(report: Report, admin: bool) -> impl IntoView {
    let range_text = format!(
        "{} – {} (UTC)",
        report.range.first_day(),
        report.range.last_day()
    );
    let chart_title = match report
        .chart_webhook
        .as_ref()
        .and_then(|id| report.rows.iter().find(|r| &r.webhook_id == id))
    {
        Some(row) => format!(
            "Deliveries of {} per {}, {range_text}",
            row.title,
            unit(&report)
        ),
        None => format!(
            "Deliveries of all webhooks per {}, {range_text}",
            unit(&report)
        ),
    };
    let kept = match report.oldest {
        Some(oldest) => format!(
            "Deliveries are kept for {} days; the oldest still kept is from {}.",
            report.retention_days,
            fmt_time(oldest)
        ),
        None => format!(
            "Deliveries are kept for {} days; there are none yet.",
            report.retention_days
        ),
    };
    let chart = svg(&report.chart, report.bucket, &chart_title);
    let bucket = report.bucket;
    let range = report.range;
    let rows = report.rows.clone();
    view! {
        <p class="explain" data-testid="report-explain">
            {format!("{range_text}. ")}
            <strong>"Times fired"</strong>" counts the deliveries created in the range (one per webhook an event matched, test sends included). "
            <strong>"Succeeded"</strong>" and "<strong>"failed"</strong>" are those deliveries' outcomes so far (failed means given up); "
            <strong>"in progress"</strong>" are still pending or retrying. Success rate is succeeded out of succeeded + failed. "
            {kept}
        </p>
        <figure class="chart-box">
            <div inner_html=chart></div>
            <figcaption>
                <details>
                    <summary>"The chart's numbers as a table"</summary>
                    <table class="list compact" data-testid="chart-table">
                        <caption>{chart_title.clone()}</caption>
                        <thead>
                            <tr>
                                <th scope="col">{if bucket == engine::reports::Bucket::Hour { "Hour" } else { "Day" }}</th>
                                <th scope="col">"Succeeded"</th>
                                <th scope="col">"Failed"</th>
                                <th scope="col">"In progress"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {report
                                .chart
                                .iter()
                                .map(|bar| view! {
                                    <tr>
                                        <th scope="row">{bar_label(bar, bucket)}</th>
                                        <td>{bar.succeeded}</td>
                                        <td>{bar.failed}</td>
                                        <td>{bar.open}</td>
                                    </tr>
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </details>
            </figcaption>
        </figure>
        <WebhookRows rows range admin />
    }
}

fn unit(report: &Report) -> &'static str {
    match report.bucket {
        engine::reports::Bucket::Hour => "hour",
        engine::reports::Bucket::Day => "day",
    }
}

#[component]
fn WebhookRows(rows: Vec<WebhookCounts>, range: Range, admin: bool) -> impl IntoView {
    if rows.is_empty() {
        return view! {
            <div class="empty" data-testid="report-empty">
                <p>"No webhooks yet, so nothing has fired."</p>
            </div>
        }
        .into_any();
    }
    let retry = ServerAction::<RetryAllFailed>::new();
    let retry_error = move || {
        retry
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| super::error_message(&e))
    };
    view! {
        {move || retry_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        <table class="list" data-testid="report-table">
            <caption class="visually-hidden">"Deliveries per webhook in the range"</caption>
            <thead>
                <tr>
                    <th scope="col">"Webhook"</th>
                    <th scope="col">"Triggers"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"URL"</th>
                    <th scope="col">"State"</th>
                    <th scope="col" class="num">"Times fired"</th>
                    <th scope="col" class="num">"Succeeded"</th>
                    <th scope="col" class="num">"Failed"</th>
                    <th scope="col" class="num">"In progress"</th>
                    <th scope="col" class="num">"Success rate"</th>
                    <th scope="col">"Last fired"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| view! { <WebhookRow row range admin retry /> })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// One webhook's counts in the range, linking to its deliveries, with
/// "Retry all" beside its failures for an admin.
#[component]
fn WebhookRow(
    row: WebhookCounts,
    range: Range,
    admin: bool,
    retry: ServerAction<RetryAllFailed>,
) -> impl IntoView {
    let history = format!(
        "/reports/history?webhook={}&{}",
        row.webhook_id,
        range.as_query()
    );
    let rate = row
        .success_rate()
        .map(|r| format!("{r:.1}%"))
        .unwrap_or_else(|| "—".to_string());
    let state = if row.deleted {
        view! { <span class="badge off">"Deleted"</span> }.into_any()
    } else if row.active {
        view! { <span class="badge on">"Active"</span> }.into_any()
    } else {
        view! {
            <span class="badge off">"Disabled"</span>
            {row.disabled_reason.clone().map(|r| view! { <span class="reason">{r}</span> })}
        }
        .into_any()
    };
    let title = if row.deleted {
        view! { <span>{row.title.clone()}</span> }.into_any()
    } else {
        view! { <a href=format!("/webhooks/{}", row.webhook_id)>{row.title.clone()}</a> }.into_any()
    };
    let can_retry = admin && !row.deleted && row.failed > 0;
    let retry_label = format!(
        "Retry all {} failed deliveries of {}",
        row.failed, row.title
    );
    let hook_id = row.webhook_id.clone();
    view! {
        <tr data-testid="report-row" data-title=row.title.clone()>
            <th scope="row">{title}</th>
            <td>{row.triggers.join(", ")}</td>
            <td class="nowrap">{row.created_at.format("%Y-%m-%d").to_string()}</td>
            <td class="mono url">{row.url.clone()}</td>
            <td>{state}</td>
            <td class="num">
                <a href=history data-testid="times-fired"
                    aria-label=format!("{} deliveries of {}: show them", row.fired, row.title)>
                    {row.fired}
                </a>
            </td>
            <td class="num" data-testid="succeeded">{row.succeeded}</td>
            <td class="num" data-testid="failed">
                {row.failed}
                {can_retry.then(|| view! {
                    <ActionForm action=retry>
                        <input type="hidden" name="webhook_id" value=hook_id.clone() />
                        <input type="hidden" name="from" value=range.first_day() />
                        <input type="hidden" name="to" value=range.last_day() />
                        <button type="submit" class="small" data-testid="retry-all"
                            aria-label=retry_label.clone()>
                            "Retry all"
                        </button>
                    </ActionForm>
                })}
            </td>
            <td class="num" data-testid="open">{row.open}</td>
            <td class="num" data-testid="success-rate">{rate}</td>
            <td class="nowrap">{row.last_fired.map(fmt_time).unwrap_or_else(|| "never".into())}</td>
        </tr>
    }
}

/// The latest retry-all runs, each linking to its progress page.
#[component]
fn RetryRuns(runs: Vec<RetryRun>) -> impl IntoView {
    (!runs.is_empty()).then(|| {
        view! {
            <h2 class="section">"Recent “retry all failed” runs"</h2>
            <ul class="runs" data-testid="retry-runs">
                {runs
                    .into_iter()
                    .map(|run| {
                        let state = if run.finished() {
                            format!("done: {} sent, {} succeeded, {} failed", run.sent(), run.succeeded, run.failed)
                        } else {
                            format!("running: {} of {} sent", run.sent(), run.marked)
                        };
                        view! {
                            <li>
                                <a href=format!("/reports/retries/{}", run.id)>
                                    {format!("{} — {} ({state})", fmt_time(run.created_at), run.webhook_title)}
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}
