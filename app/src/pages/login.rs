//! Email + password sign-in, and the fields it shares with the first
//! visit's setup.

use leptos::prelude::*;

use super::error_message;
use crate::api::Login;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let error = Signal::derive(move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| error_message(&e))
    });
    view! {
        <main class="auth">
            <h1>"Sign in to Postback"</h1>
            <ActionForm action>
                <CredentialFields id="login" password_label="Password" new_password=false
                    submit="Sign in" pending=action.pending().into() error />
            </ActionForm>
        </main>
    }
}

/// The email and password fields, the form's error and its submit button,
/// as sign-in and setup both ask for them; `id` prefixes their ids and
/// test ids. A `new_password` is checked for its length in the browser too.
#[component]
pub fn CredentialFields(
    id: &'static str,
    password_label: &'static str,
    new_password: bool,
    submit: &'static str,
    pending: Signal<bool>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let email = format!("{id}-email");
    let password = format!("{id}-password");
    view! {
        <label for=email.clone()>"Email"</label>
        <input id=email.clone() type="email" name="email" required autocomplete="username"
            data-testid=email />
        <label for=password.clone()>{password_label}</label>
        <input id=password.clone() type="password" name="password" required
            minlength=new_password.then_some("8")
            autocomplete=if new_password { "new-password" } else { "current-password" }
            data-testid=password />
        {move || error.get().map(|e| view! { <p class="form-error" role="alert" data-testid="form-error">{e}</p> })}
        <button type="submit" class="primary" data-testid=format!("{id}-submit")
            disabled=move || pending.get()>{submit}</button>
    }
}
