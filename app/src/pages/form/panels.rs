//! The panels below a saved webhook's form: a test send with its full
//! request and response, and signing-secret rotation.

use engine::model::TestSend;
use leptos::prelude::*;

use crate::api::{RotateSecret, TestWebhook};
use crate::pages::error_message;
use crate::pages::inputs::SelectInput;

/// Rotates the signing secret and shows the new one once.
#[component]
pub(super) fn RotatePanel(id: String) -> impl IntoView {
    let action = ServerAction::<RotateSecret>::new();
    let confirm = RwSignal::new(false);
    view! {
        <section class="test-panel" aria-label="Signing secret" data-testid="rotate-panel">
            <h2>"Signing secret"</h2>
            <p class="hint">"Every request is signed (Standard Webhooks). Rotating makes a new secret; for 24 hours requests carry signatures with both, so the receiver can switch over."</p>
            {move || match action.value().get() {
                Some(Ok(secret)) => view! {
                    <p>"New signing secret, shown this once:"</p>
                    <p><code class="secret" data-testid="rotated-secret">{secret}</code></p>
                }.into_any(),
                Some(Err(e)) => view! { <p class="form-error" role="alert">{error_message(&e)}</p> }.into_any(),
                None if confirm.get() => {
                    let id = id.clone();
                    view! {
                        <p>"Rotate now? The receiver must learn the new secret within 24 hours."</p>
                        <button type="button" class="danger" data-testid="rotate-yes"
                            on:click=move |_| { action.dispatch(RotateSecret { id: id.clone() }); }>"Rotate secret"</button>
                        <button type="button" on:click=move |_| confirm.set(false)>"Cancel"</button>
                    }.into_any()
                }
                None => view! {
                    <button type="button" data-testid="rotate" on:click=move |_| confirm.set(true)>"Rotate signing secret…"</button>
                }.into_any(),
            }}
        </section>
    }
}

/// Sends a sample event to the saved webhook and shows what happened.
#[component]
pub(super) fn TestPanel(id: String, types: Vec<String>) -> impl IntoView {
    let action = ServerAction::<TestWebhook>::new();
    let first = types
        .first()
        .cloned()
        .unwrap_or_else(|| "webhook.test".to_string());
    let event_type = RwSignal::new(first);
    let options: Vec<(String, String)> = types.iter().map(|t| (t.clone(), t.clone())).collect();
    view! {
        <section class="test-panel" aria-label="Test send" data-testid="test-panel">
            <h2>"Test"</h2>
            <p class="hint">"Sends a sample event to the saved webhook now and shows the full request and response. It is recorded like any delivery."</p>
            <div class="row">
                <SelectInput value=event_type testid="test-event-type" label="Sample event" options />
                <button type="button" class="primary" data-testid="send-test"
                    disabled=move || action.pending().get()
                    on:click=move |_| { action.dispatch(TestWebhook { id: id.clone(), event_type: event_type.get() }); }>
                    {move || if action.pending().get() { "Sending…" } else { "Send test" }}
                </button>
            </div>
            {move || action.value().get().map(|result| match result {
                Ok(sent) => view! { <TestResult sent /> }.into_any(),
                Err(e) => view! { <p class="form-error" role="alert" data-testid="test-error">{error_message(&e)}</p> }.into_any(),
            })}
        </section>
    }
}

#[component]
pub(crate) fn TestResult(sent: TestSend) -> impl IntoView {
    let request = &sent.request;
    let request_text = format!(
        "{} {}\n{}\n\n{}",
        request.method,
        request.url,
        request
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        request.body.clone().unwrap_or_default()
    );
    let answer = match (sent.response, sent.error) {
        (Some(r), note) => view! {
            <h3>"Response "<span data-testid="test-status">{r.status}</span>" in "{r.duration_ms}" ms"</h3>
            {note.map(|e| view! { <p class="form-error" data-testid="test-error">{e}</p> })}
            <pre data-testid="test-response-headers">{r.headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>()}</pre>
            <pre data-testid="test-response-body">{r.body}</pre>
        }.into_any(),
        (None, Some(e)) => view! { <p class="form-error" role="alert" data-testid="test-error">{e}</p> }.into_any(),
        (None, None) => ().into_any(),
    };
    let delivery = format!("/reports/deliveries/{}", sent.delivery_id);
    view! {
        <div class="test-result" data-testid="test-result">
            <p><a href=delivery data-testid="test-delivery-link">"Open this delivery in the history"</a></p>
            <h3>"Request"</h3>
            <pre data-testid="test-request">{request_text}</pre>
            {answer}
        </div>
    }
}
