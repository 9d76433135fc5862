//! The live preview: the exact request for a sample event of one of the
//! triggers, rendered in the browser by the same engine code that
//! delivers it, on every keystroke. Secrets show masked even while typed.

use engine::catalog::Catalog;
use leptos::prelude::*;

use super::state::FormState;

#[component]
pub(super) fn Preview(form: FormState, catalog: StoredValue<Catalog>) -> impl IntoView {
    let preview_type = RwSignal::new(String::new());
    let preview = Memo::new(move |_| {
        let (mut input, _) = form.read();
        input.auth = input.auth.masked();
        let chosen = preview_type.get();
        let event_type =
            if chosen.is_empty() || !input.triggers.iter().any(|t| t.event_type == chosen) {
                input
                    .triggers
                    .first()
                    .map(|t| t.event_type.clone())
                    .unwrap_or_else(|| "webhook.test".into())
            } else {
                chosen
            };
        let event = catalog
            .with_value(|c| c.sample(&event_type))
            .unwrap_or_else(|| engine::catalog::event_of(&event_type, serde_json::Map::new()));
        engine::render::render(&input, &event).map_err(|e| e.to_string())
    });
    view! {
    <aside class="preview" aria-label="Request preview" data-testid="preview">
        <h2>"Preview"</h2>
        <label for="f-sample">"Sample event"</label>
        <select id="f-sample" data-testid="preview-type" on:change=move |ev| preview_type.set(event_target_value(&ev))>
            {move || form.triggers.get().iter().map(|t| {
                let name = t.event_type.get();
                view! { <option value=name.clone()>{name.clone()}</option> }
            }).collect_view()}
        </select>
        {move || match preview.get() {
            Ok(request) => view! {
                <pre class="request-line" data-testid="preview-request-line">{format!("{} {}", request.method, request.url)}</pre>
                <pre class="headers" data-testid="preview-headers">{request.headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>()}
                    "webhook-id: evt_…\nwebhook-timestamp: …\nwebhook-signature: v1,…\n"</pre>
                <pre class="body" data-testid="preview-body">{request.body.unwrap_or_else(|| "(no body: GET sends the fields in the query string)".into())}</pre>
            }.into_any(),
            Err(e) => view! { <p class="field-warning" data-testid="preview-error">{e}</p> }.into_any(),
        }}
    </aside>
    }
}
