//! Delivery history: every delivery, newest first, filtered by the URL's
//! query (a plain GET form), paged by cursor, exportable as CSV.

use engine::model::DeliveryStatus;
use engine::model::WebhookTitle;
use engine::reports::{DeliveryState, HistoryQuery, Preset, query_pair};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{DateField, ErrorPanel, Layout, StatusBadge, fmt_time};
use crate::api::delivery_history;

/// The history filters in the current URL.
fn history_query(q: &leptos_router::params::ParamsMap) -> HistoryQuery {
    HistoryQuery {
        webhook: q.get("webhook"),
        status: q.get("status"),
        event_type: q.get("event_type"),
        record: q.get("record"),
        job: q.get("job"),
        range: q.get("range"),
        from: q.get("from"),
        to: q.get("to"),
        cursor: q.get("cursor"),
        prev: q.get("prev"),
    }
}

#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(move || history_query(&query.get()), delivery_history);
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        let asked = history_query(&query.get_untracked());
                        let titles = view.webhooks.clone();
                        let error = view.page.as_ref().err().cloned();
                        view! {
                            <Layout user=view.user>
                                <div class="page-head">
                                    <h1>"Delivery history"</h1>
                                    <a class="button" href=format!("/reports/history.csv?{}", asked.to_query())
                                        data-testid="export-csv" download="deliveries.csv">
                                        "Export CSV"
                                    </a>
                                </div>
                                <Filters asked=asked.clone() webhooks=titles.clone() error />
                                {match view.page {
                                    Ok(page) => view! {
                                        <Rows rows=page.data webhooks=titles />
                                        <Pager asked next=page.next_cursor prev=page.prev_cursor />
                                    }
                                        .into_any(),
                                    Err(_) => ().into_any(),
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
fn Filters(
    asked: HistoryQuery,
    webhooks: Vec<WebhookTitle>,
    error: Option<engine::validate::FieldError>,
) -> impl IntoView {
    let chosen = |v: &Option<String>| v.clone().unwrap_or_default();
    let (webhook, status, range) = (
        chosen(&asked.webhook),
        chosen(&asked.status),
        chosen(&asked.range),
    );
    let custom = range.is_empty() && asked.from.as_deref().is_some_and(|f| !f.is_empty());
    view! {
        <form method="get" action="/reports/history" class="filters" data-testid="history-filters">
            {asked.job().map(|job| view! {
                <div class="filter-job" data-testid="filter-job">
                    <input type="hidden" name="job" value=job.to_string() />
                    <span>"Deliveries of the mass post "<a href=format!("/jobs/{job}")>{job.to_string()}</a></span>
                </div>
            })}
            <div>
                <label for="f-webhook">"Webhook"</label>
                <select id="f-webhook" name="webhook" data-testid="filter-webhook">
                    <option value="">"All webhooks"</option>
                    {webhooks
                        .into_iter()
                        .map(|WebhookTitle { id, title, deleted, .. }| {
                            let selected = id == webhook;
                            let label = if deleted { format!("{title} (deleted)") } else { title };
                            view! { <option value=id selected=selected>{label}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <div>
                <label for="f-status">"Status"</label>
                <select id="f-status" name="status" data-testid="filter-status">
                    <option value="">"Any status"</option>
                    {DeliveryStatus::ALL
                        .map(DeliveryStatus::as_str)
                        .into_iter()
                        .map(|s| view! { <option value=s selected=s == status>{s}</option> })
                        .collect_view()}
                </select>
            </div>
            <div>
                <label for="f-type">"Event type"</label>
                <input id="f-type" name="event_type" placeholder="contact.created" data-testid="filter-event-type"
                    value=chosen(&asked.event_type) />
            </div>
            <div>
                <label for="f-record">"Record id"</label>
                <input id="f-record" name="record" placeholder="c_1001" data-testid="filter-record"
                    value=chosen(&asked.record) />
            </div>
            <div>
                <label for="f-range">"Date range"</label>
                <select id="f-range" name="range" data-testid="filter-range">
                    <option value="" selected=range.is_empty() && !custom>"Any time"</option>
                    {Preset::ALL
                        .into_iter()
                        .map(|p| {
                            let selected = p.key() == range || (custom && p == Preset::Custom);
                            view! { <option value=p.key() selected=selected>{p.label()}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <DateField id="f-from" name="from" label="From (custom)" testid="filter-from" value=chosen(&asked.from) error=None />
            <DateField id="f-to" name="to" label="To (custom)" testid="filter-to" value=chosen(&asked.to) error=None />
            <div class="actions">
                <button type="submit" class="primary" data-testid="filter-apply">"Filter"</button>
                <a href="/reports/history" class="button">"Clear"</a>
            </div>
        </form>
        {error.map(|e| view! { <p class="form-error" role="alert" data-testid="filter-error">{e.message}</p> })}
    }
}

#[component]
fn Rows(rows: Vec<DeliveryState>, webhooks: Vec<WebhookTitle>) -> impl IntoView {
    if rows.is_empty() {
        return view! {
            <div class="empty" data-testid="no-deliveries"><p>"No deliveries match these filters."</p></div>
        }
        .into_any();
    }
    let title_of = move |id: &str| WebhookTitle::of(&webhooks, id).unwrap_or(id).to_string();
    view! {
        <table class="list" data-testid="history-table">
            <caption class="visually-hidden">"Deliveries, newest first"</caption>
            <thead>
                <tr>
                    <th scope="col">"Time (UTC)"</th>
                    <th scope="col">"Webhook"</th>
                    <th scope="col">"Event type"</th>
                    <th scope="col">"Record"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col" class="num">"Attempts"</th>
                    <th scope="col">"Last response"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|d| {
                        let record = d.record_text().unwrap_or_else(|| "—".into());
                        let last = d.last_outcome().unwrap_or_else(|| "—".into());
                        view! {
                            <tr data-testid="history-row" data-status=d.status.as_str() data-id=d.id.clone()>
                                <td class="nowrap">
                                    <a href=format!("/reports/deliveries/{}", d.id) data-testid="delivery-link">
                                        {fmt_time(d.created_at)}
                                    </a>
                                </td>
                                <td>{title_of(&d.webhook_id)}</td>
                                <td>
                                    {d.event_type.clone()}
                                    {d.test.then(|| view! { <span class="badge off">"test"</span> })}
                                    {d.manual.then(|| view! { <span class="badge off" title="Sent by hand: execute webhook">"manual"</span> })}
                                </td>
                                <td>
                                    {match d.record_id.clone() {
                                        Some(id) => view! {
                                            <a href=format!("/reports/history?{}", query_pair("record", &id))>{record}</a>
                                        }
                                            .into_any(),
                                        None => view! { <span>{record}</span> }.into_any(),
                                    }}
                                </td>
                                <td><StatusBadge status=d.status /></td>
                                <td class="num">{d.attempts}</td>
                                <td class="last-response">{last}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
        .into_any()
}

#[component]
fn Pager(asked: HistoryQuery, next: Option<String>, prev: Option<String>) -> impl IntoView {
    let base = asked.to_query();
    let link = move |key: &str, cursor: &str| {
        let sep = if base.is_empty() { "" } else { "&" };
        format!("/reports/history?{base}{sep}{}", query_pair(key, cursor))
    };
    view! {
        <nav class="pager" aria-label="Pages">
            {match prev {
                Some(p) => view! { <a href=link("prev", &p) rel="prev" data-testid="page-newer">"← Newer"</a> }.into_any(),
                None => view! { <span class="muted">"← Newer"</span> }.into_any(),
            }}
            {match next {
                Some(n) => view! { <a href=link("cursor", &n) rel="next" data-testid="page-older">"Older →"</a> }.into_any(),
                None => view! { <span class="muted">"Older →"</span> }.into_any(),
            }}
        </nav>
    }
}
