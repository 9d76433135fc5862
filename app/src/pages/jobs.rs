//! A background job's page (a mass post or an import): a progress bar
//! that refreshes itself (without JavaScript too) until every record has
//! its outcome, cancel while it runs, the summary linking to the history
//! of the run, and what it could not do, by line, with a download.

use engine::model::{JobError, JobKind, JobState, JobView, Role};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{ErrorPanel, Layout, fmt_time, poll_while};
use crate::api::jobs::{CancelJob, JobDetail, load_job};

/// A job's page: a progress bar that refreshes itself (without
/// JavaScript too) until every delivery it made has an outcome, cancel
/// while it runs, and the summary.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let tick = RwSignal::new(0u32);
    let data = Resource::new(
        move || (params.get().get("id").unwrap_or_default(), tick.get()),
        |(id, _)| load_job(id),
    );
    poll_while(tick, move || {
        data.get_untracked()
            .and_then(Result::ok)
            .is_none_or(|detail| !detail.job.settled())
    });
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(detail) => view! { <Job detail /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Job(detail: JobDetail) -> impl IntoView {
    let JobDetail {
        user,
        job,
        webhook_title,
    } = detail;
    let admin = user.role == Role::Admin;
    let through = webhook_title.unwrap_or_else(|| "a deleted webhook".into());
    let heading = match job.kind {
        JobKind::MassPost => format!("Mass post through {through}"),
        JobKind::Import => format!(
            "Import of {}",
            job.file_name.clone().unwrap_or_else(|| "a CSV file".into())
        ),
    };
    let posts = (job.kind == JobKind::Import && job.webhook_id.is_some())
        .then(|| format!("Each imported contact is posted through {through}."));
    let settled = job.settled() || job.state == JobState::Draft;
    let running = job.state == JobState::Running;
    let (stopped, lines): (Vec<JobError>, Vec<JobError>) =
        job.errors.iter().cloned().partition(|e| e.line == 0);
    view! {
        {(!settled).then(|| view! { <noscript><meta http-equiv="refresh" content="2" /></noscript> })}
        <Layout user>
            <p class="crumbs"><a href="/contacts">"Contacts"</a></p>
            <h1>{heading}</h1>
            <p>{format!("Started {} (UTC).", fmt_time(job.created_at))} {posts.map(|p| format!(" {p}"))}</p>
            {(job.state == JobState::Draft).then(|| view! {
                <p class="notice" data-testid="job-draft">
                    "This import waits for its mapping: "
                    <a href=format!("/contacts/import/{}", job.id)>"choose where each column goes"</a>"."
                </p>
            })}
            <div class="progress-box" data-testid="job-progress" data-state=job.state.as_str()
                data-settled=settled.to_string()>
                <label for="job-bar" data-testid="job-state">{progress_label(&job)}</label>
                <progress id="job-bar" max="100" value=job.percent().to_string()>{format!("{}%", job.percent())}</progress>
                {stopped.into_iter().map(|e| view! {
                    <p class="form-error" role="alert" data-testid="job-stopped">{e.reason}</p>
                }).collect_view()}
                {(admin && running).then(|| view! { <Cancel id=job.id.clone() /> })}
            </div>
            <Summary job=job.clone() />
            {(!lines.is_empty()).then(|| view! { <Errors id=job.id.clone() lines count=job.error_count /> })}
        </Layout>
    }
}

fn progress_label(job: &JobView) -> String {
    let (done, total, pending) = (job.done, job.total, job.pending);
    let (what, verb) = match job.kind {
        JobKind::MassPost => ("contacts", "Posting"),
        JobKind::Import => ("rows", "Importing"),
    };
    match job.state {
        JobState::Draft => format!("Uploaded: {total} {what}, waiting for the mapping"),
        JobState::Running if job.kind == JobKind::MassPost => format!(
            "{verb}: {done} of {total} {what} handed to the webhook, {} finished",
            job.outcomes()
        ),
        JobState::Running => format!("{verb}: {done} of {total} {what}"),
        JobState::Done if pending > 0 => {
            format!("All {total} {what} handled; {pending} deliveries on their way")
        }
        JobState::Done => format!("Done: {total} of {total} {what}"),
        JobState::Cancelled => format!("Cancelled after {done} of {total} {what}"),
        JobState::Failed => format!("Stopped after {done} of {total} {what}"),
    }
}

#[component]
fn Cancel(id: String) -> impl IntoView {
    let cancel = ServerAction::<CancelJob>::new();
    view! {
        <ActionForm action=cancel attr:class="actions">
            <input type="hidden" name="id" value=id />
            <button type="submit" class="danger" data-testid="job-cancel">"Cancel the post"</button>
            <span class="hint">"Contacts not posted yet are left out; deliveries already made still go."</span>
        </ActionForm>
    }
}

/// Deliveries made so far, by outcome, with links to the history.
#[component]
fn Summary(job: JobView) -> impl IntoView {
    // The history from the day the job started until today.
    let since = job.created_at.format("%Y-%m-%d");
    let history = |status: Option<&str>| {
        let status = status.map(|s| format!("&status={s}")).unwrap_or_default();
        format!(
            "/reports/history?job={}&range=custom&from={since}{status}",
            job.id
        )
    };
    let deliveries = if job.sent() == 1 {
        "delivery"
    } else {
        "deliveries"
    };
    let imported = (job.kind == JobKind::Import).then(|| {
        let kept = (job.done - job.error_count).max(0);
        let rows = if kept == 1 { "row" } else { "rows" };
        format!("{kept} {rows} imported, {} not imported.", job.error_count)
    });
    let posted = job.kind == JobKind::MassPost || job.webhook_id.is_some();
    view! {
        <div class="notice" role="status" data-testid="job-summary">
            {imported.map(|text| view! { <p data-testid="job-imported"><strong>{text}</strong></p> })}
            {posted.then(|| view! {
                <p>
                    <strong data-testid="job-sent">{format!("{} {deliveries} sent", job.sent())}</strong>
                    {format!(": {} succeeded, {} failed", job.succeeded, job.failed)}
                    {(job.pending > 0).then(|| format!(", {} on their way", job.pending))}
                    "."
                </p>
                <p>
                    <a href=history(None) data-testid="job-history">"See them in the history"</a>
                    {(job.failed > 0).then(|| view! {
                        " · "
                        <a href=history(Some("failed")) data-testid="job-history-failed">"See the failed ones"</a>
                    })}
                </p>
            })}
        </div>
    }
}

/// Records the job could not post, by line.
#[component]
fn Errors(id: String, lines: Vec<JobError>, count: i64) -> impl IntoView {
    let shown = lines.len() as i64;
    view! {
        <section class="panel" aria-labelledby="job-errors-h" data-testid="job-errors">
            <h2 id="job-errors-h">{format!("Not done: {count}")}</h2>
            <p class="hint">
                {(count > shown).then(|| format!("The first {shown} are listed. "))}
                <a href=format!("/jobs/{id}/errors.csv") download="errors.csv" data-testid="job-errors-csv">"Download them all (CSV)"</a>
            </p>
            <div class="table-scroll">
                <table class="list">
                    <thead><tr><th scope="col">"Line"</th><th scope="col">"Why"</th></tr></thead>
                    <tbody>
                        {lines.into_iter().map(|e| view! {
                            <tr data-testid="job-error"><td class="num">{e.line}</td><td>{e.reason}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}
