//! The first visit to an empty installation: create the first admin.

use leptos::prelude::*;

use super::error_message;
use crate::api::SetupAdmin;

#[component]
pub fn SetupPage() -> impl IntoView {
    let action = ServerAction::<SetupAdmin>::new();
    let error = move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| error_message(&e))
    };
    view! {
        <main class="auth">
            <h1>"Welcome to Postback"</h1>
            <p>"This installation has no users yet. Create the first admin account."</p>
            <ActionForm action>
                <label for="setup-email">"Email"</label>
                <input id="setup-email" type="email" name="email" required autocomplete="username"
                    data-testid="setup-email" />
                <label for="setup-password">"Password (at least 8 characters)"</label>
                <input id="setup-password" type="password" name="password" required minlength="8"
                    autocomplete="new-password" data-testid="setup-password" />
                {move || error().map(|e| view! { <p class="form-error" role="alert" data-testid="form-error">{e}</p> })}
                <button type="submit" class="primary" data-testid="setup-submit"
                    disabled=move || action.pending().get()>"Create admin"</button>
            </ActionForm>
        </main>
    }
}
