//! The first visit to an empty installation: create the first admin.

use leptos::prelude::*;

use super::error_message;
use super::login::CredentialFields;
use crate::api::SetupAdmin;

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
    view! {
        <main class="auth">
            <h1>"Welcome to Postback"</h1>
            <p>"This installation has no users yet. Create the first admin account."</p>
            <ActionForm action>
                <CredentialFields id="setup" password_label="Password (at least 8 characters)"
                    new_password=true submit="Create admin" pending=action.pending().into() error />
            </ActionForm>
        </main>
    }
}
