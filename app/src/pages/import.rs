//! Data source import in the console: upload a contacts CSV (a plain
//! multipart form to `POST /contacts/import`), then choose where each
//! column goes with the first rows in view and, optionally, a webhook to
//! post each imported contact through; the import then runs as a job
//! (its page is in [`super::jobs`]). Works without JavaScript.

use engine::model::JobState;
use engine::model::imports::ContactField;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{ErrorPanel, Layout, error_message};
use crate::api::jobs::{ImportDraft, StartImport, load_import_draft, load_import_page};

#[component]
pub fn ImportPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(|| (), |_| load_import_page());
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let error = query.get_untracked().get("error");
                match data.await {
                    Ok(user) => view! {
                        <Layout user>
                            <p class="crumbs"><a href="/contacts">"Contacts"</a></p>
                            <h1>"Import contacts"</h1>
                            <p class="explain">
                                "Upload a CSV file whose first line names the columns (UTF-8, as spreadsheets save “CSV UTF-8”). "
                                "Next you choose where each column goes. A row updates the contact with its external id or email; "
                                "the others create contacts. Empty cells leave a contact's field as it is."
                            </p>
                            <form method="post" action="/contacts/import" enctype="multipart/form-data"
                                class="panel" data-testid="import-upload">
                                <label for="import-file">"CSV file (up to 64 MB)"</label>
                                <input id="import-file" type="file" name="file" accept=".csv,text/csv" required
                                    data-testid="import-file"
                                    aria-invalid=error.is_some().then_some("true")
                                    aria-describedby=error.is_some().then_some("import-file-error") />
                                {error.map(|m| view! {
                                    <p class="field-error" id="import-file-error" role="alert" data-testid="import-error">{m}</p>
                                })}
                                <div class="actions">
                                    <button type="submit" class="primary" data-testid="import-upload-submit">"Upload"</button>
                                </div>
                            </form>
                        </Layout>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn MappingPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.get().get("id").unwrap_or_default(),
        load_import_draft,
    );
    view! {
        <Suspense fallback=|| view! { <p class="page">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(draft) => view! { <Mapping draft /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The places a column can go, as `(key, label)`: the contact's fields, a
/// custom field named as the column, or nowhere.
fn places(header: &str, current: &str) -> Vec<(String, String)> {
    let mut places: Vec<(String, String)> = ContactField::ALL
        .into_iter()
        .map(|f| (f.key().to_string(), f.label().to_string()))
        .collect();
    let custom = format!("custom:{header}");
    if let Some(name) = current.strip_prefix("custom:")
        && current != custom
    {
        places.push((current.to_string(), format!("Custom field “{name}”")));
    }
    places.push((custom, format!("Custom field “{header}”")));
    places.push(("ignore".into(), "Don't import".into()));
    places
}

#[component]
fn Mapping(draft: ImportDraft) -> impl IntoView {
    let ImportDraft {
        user,
        job,
        headers,
        targets,
        rows,
        webhooks,
    } = draft;
    let name = job.file_name.clone().unwrap_or_else(|| "a CSV file".into());
    if job.state != JobState::Draft {
        return view! {
            <Layout user>
                <p class="crumbs"><a href="/contacts">"Contacts"</a></p>
                <h1>{format!("Import of {name}")}</h1>
                <p class="notice" data-testid="import-started">
                    "This import has started. "
                    <a href=format!("/jobs/{}", job.id)>"See its progress"</a>
                </p>
            </Layout>
        }
        .into_any();
    }
    let bad = job.error_count;
    let good = job.total - bad;
    let start = ServerAction::<StartImport>::new();
    let samples = |column: usize| {
        rows.iter()
            .filter_map(|(_, fields)| fields.get(column))
            .filter(|v| !v.trim().is_empty())
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let columns = headers
        .iter()
        .zip(&targets)
        .enumerate()
        .map(|(i, (header, target))| {
            let id = format!("target-{i}");
            let options = places(header, target)
                .into_iter()
                .map(|(key, label)| {
                    let selected = key == *target;
                    view! { <option value=key selected=selected>{label}</option> }
                })
                .collect_view();
            view! {
                <tr data-testid="import-column" data-header=header.clone()>
                    <th scope="row"><label for=id.clone()>{header.clone()}</label></th>
                    <td>
                        <select id=id name=format!("targets[{i}]") data-testid="import-target">{options}</select>
                    </td>
                    <td class="muted">{samples(i)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <Layout user>
            <p class="crumbs"><a href="/contacts">"Contacts"</a>" › "<a href="/contacts/import">"Import"</a></p>
            <h1>{format!("Import of {name}")}</h1>
            <p data-testid="import-counts">
                {format!("{} {} read: {good} to import", job.total, plural(job.total, "row", "rows"))}
                {(bad > 0).then(|| format!(", {bad} that cannot be (listed below)"))}
                "."
            </p>
            <ActionForm action=start attr:data-testid="import-mapping">
                <input type="hidden" name="id" value=job.id.clone() />
                <div class="table-scroll">
                    <table class="list">
                        <caption>"Where each column goes"</caption>
                        <thead>
                            <tr><th scope="col">"Column"</th><th scope="col">"Goes to"</th><th scope="col">"First values"</th></tr>
                        </thead>
                        <tbody>{columns}</tbody>
                    </table>
                </div>
                <div class="row webhook-choice">
                    <div>
                        <label for="import-webhook">"Post each imported contact through"</label>
                        <select id="import-webhook" name="webhook_id" data-testid="import-webhook">
                            <option value="">"No webhook: import only"</option>
                            {webhooks.into_iter().map(|w| view! { <option value=w.id>{w.title}</option> }).collect_view()}
                        </select>
                    </div>
                </div>
                <div class="actions">
                    <button type="submit" class="primary" data-testid="import-start"
                        disabled=move || start.pending().get()>
                        {format!("Import {good} {}", plural(good, "row", "rows"))}
                    </button>
                </div>
                {move || start.value().get().and_then(Result::err).map(|e| view! {
                    <p class="form-error" role="alert" data-testid="import-start-error">{error_message(&e)}</p>
                })}
            </ActionForm>
            <FirstRows headers=headers.clone() rows />
            {(!job.errors.is_empty()).then(|| view! {
                <section class="panel" aria-labelledby="import-bad-h" data-testid="import-bad-rows">
                    <h2 id="import-bad-h">{format!("Rows that cannot be imported: {bad}")}</h2>
                    <ul>
                        {job.errors.iter().map(|e| view! {
                            <li data-testid="import-bad-row">{format!("Line {}: {}", e.line, e.reason)}</li>
                        }).collect_view()}
                    </ul>
                </section>
            })}
        </Layout>
    }
    .into_any()
}

fn plural(n: i64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The file's first rows as they are in it.
#[component]
fn FirstRows(headers: Vec<String>, rows: Vec<(i64, Vec<String>)>) -> impl IntoView {
    view! {
        <section aria-labelledby="first-rows-h">
            <h2 id="first-rows-h" class="section">"The first rows"</h2>
            <div class="table-scroll">
                <table class="list compact" data-testid="import-first-rows">
                    <thead>
                        <tr>
                            <th scope="col">"Line"</th>
                            {headers.into_iter().map(|h| view! { <th scope="col">{h}</th> }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {rows.into_iter().map(|(line, fields)| view! {
                            <tr>
                                <td class="num">{line}</td>
                                {fields.into_iter().map(|f| view! { <td>{f}</td> }).collect_view()}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}
