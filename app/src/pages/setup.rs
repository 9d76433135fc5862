//! The first visit to an empty installation: create the first admin.

use leptos::prelude::*;

use super::error_message;
use super::login::CredentialFields;
use crate::api::{SetupAdmin, setup_asks_token};

#[component]
pub fn SetupPage() -> impl IntoView {
    let action = ServerAction::<SetupAdmin>::new();
    let error = Signal::derive(move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| error_message(&e))
    });
    let asks_token = Resource::new(|| (), |_| setup_asks_token());
    view! {
        <main class="auth">
            <h1>"Welcome to Postback"</h1>
            <p>"This installation has no users yet. Create the first admin account."</p>
            <ActionForm action>
                <Suspense>
                    {move || asks_token.get().and_then(Result::ok).filter(|asks| *asks).map(|_| view! {
                        <label for="setup-token">"Setup token"</label>
                        <input id="setup-token" name="token" required autocomplete="off"
                            aria-describedby="setup-token-hint" data-testid="setup-token" />
                        <p class="hint" id="setup-token-hint">
                            "Postback can be reached from beyond its own machine, so it asks who sets it up to prove they can read its log: enter the one-time token it printed there when it started."
                        </p>
                    })}
                </Suspense>
                <CredentialFields id="setup" password_label="Password (at least 8 characters)"
                    new_password=true submit="Create admin" pending=action.pending().into() error />
            </ActionForm>
        </main>
    }
}
