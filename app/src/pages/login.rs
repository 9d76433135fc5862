//! Email + password sign-in.

use leptos::prelude::*;

use super::error_message;
use crate::api::Login;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let error = move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| error_message(&e))
    };
    view! {
        <main class="auth">
            <h1>"Sign in to Postback"</h1>
            <ActionForm action>
                <label for="login-email">"Email"</label>
                <input id="login-email" type="email" name="email" required autocomplete="username"
                    data-testid="login-email" />
                <label for="login-password">"Password"</label>
                <input id="login-password" type="password" name="password" required
                    autocomplete="current-password" data-testid="login-password" />
                {move || error().map(|e| view! { <p class="form-error" role="alert" data-testid="form-error">{e}</p> })}
                <button type="submit" class="primary" data-testid="login-submit"
                    disabled=move || action.pending().get()>"Sign in"</button>
            </ActionForm>
        </main>
    }
}
