//! The authentication header or HTTP Basic credentials (secrets write-only), and extra headers.

use leptos::prelude::*;

use super::state::header_row;
use super::{FieldErr, Fieldset, LabeledText, pairs};
use crate::pages::inputs::{SelectInput, TextInput};

#[component]
pub(super) fn AuthenticationFields(of: Fieldset) -> impl IntoView {
    let Fieldset {
        form,
        errors,
        readonly,
    } = of;
    view! {
        <fieldset disabled=readonly>
            <legend>"Authentication"</legend>
            <SelectInput value=form.auth_type testid="auth-type" label="Authentication type"
                options=pairs(&[("none", "None"), ("header", "Authentication header"), ("basic", "HTTP Basic")]) />
            {move || match form.auth_type.get().as_str() {
                "header" => view! {
                    <div class="row">
                        <div>
                            <LabeledText label="Header name" value=form.auth_name id="f-auth-name" testid="auth-name" placeholder="Authorization" errors field="auth.name" />
                        </div>
                        <div>
                            <LabeledText label="Header value (secret)" value=form.auth_value id="f-auth-value" testid="auth-value" kind="password" placeholder="Bearer …" errors field="auth.value" />
                        </div>
                    </div>
                }.into_any(),
                "basic" => view! {
                    <div class="row">
                        <div>
                            <LabeledText label="Username" value=form.auth_username id="f-auth-user" testid="auth-username" errors field="auth.username" />
                        </div>
                        <div>
                            <LabeledText label="Password (secret)" value=form.auth_password id="f-auth-pass" testid="auth-password" kind="password" errors field="auth.password" />
                        </div>
                    </div>
                }.into_any(),
                _ => ().into_any(),
            }}
            <p class="hint">"Secrets are write-only: a saved secret shows as ******** and is kept unless you type a new one."</p>

            <h3>"Extra headers"</h3>
            <For each=move || form.headers.get() key=|h| h.id let:h>
                {
                    let index = move || form.headers.with(|hs| hs.iter().position(|x| x.id == h.id).unwrap_or(0));
                    view! {
                        <div class="row header-row" data-testid="header-row">
                            <div>
                                <TextInput value=h.name testid="header-name" label="Header name" placeholder="X-Source" />
                                {move || view! { <FieldErr errors field=format!("headers[{}].name", index()) /> }}
                            </div>
                            <div>
                                <TextInput value=h.value testid="header-value" label="Header value" />
                                {move || view! { <FieldErr errors field=format!("headers[{}].value", index()) /> }}
                            </div>
                            <button type="button" class="small" data-testid="remove-header"
                                on:click=move |_| form.headers.update(|hs| hs.retain(|x| x.id != h.id))>"Remove"</button>
                        </div>
                    }
                }
            </For>
            <button type="button" class="small" data-testid="add-header"
                on:click=move |_| form.headers.update(|hs| hs.push(header_row("", "")))>"Add header"</button>
        </fieldset>
    }
}
