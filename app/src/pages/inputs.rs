//! Form controls bound to signals. Each writes its value as an HTML
//! attribute too, so the server-rendered page shows it before hydration.

use leptos::prelude::*;

/// A text-like input bound to a string signal.
#[component]
pub fn TextInput(
    value: RwSignal<String>,
    #[prop(into)] testid: String,
    #[prop(into, optional)] id: String,
    #[prop(into, default = "text".to_string())] kind: String,
    #[prop(into, optional)] placeholder: String,
    #[prop(into, optional)] list: String,
    #[prop(into, optional)] label: String,
    #[prop(optional)] disabled: bool,
    #[prop(into, optional)] invalid: Signal<bool>,
) -> impl IntoView {
    view! {
        <input
            type=kind
            id=(!id.is_empty()).then_some(id)
            data-testid=testid
            placeholder=(!placeholder.is_empty()).then_some(placeholder)
            list=(!list.is_empty()).then_some(list)
            aria-label=(!label.is_empty()).then_some(label)
            disabled=disabled
            aria-invalid=move || invalid.get().then_some("true")
            value=move || value.get()
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
        />
    }
}

/// A select bound to a string signal; options are (value, label) pairs.
#[component]
pub fn SelectInput(
    value: RwSignal<String>,
    options: Vec<(String, String)>,
    #[prop(into)] testid: String,
    #[prop(into, optional)] id: String,
    #[prop(into, optional)] label: String,
    #[prop(optional)] disabled: bool,
) -> impl IntoView {
    view! {
        <select
            id=(!id.is_empty()).then_some(id)
            data-testid=testid
            aria-label=(!label.is_empty()).then_some(label)
            disabled=disabled
            prop:value=move || value.get()
            on:change=move |ev| value.set(event_target_value(&ev))
        >
            {options
                .into_iter()
                .map(|(v, text)| {
                    let selected = v.clone();
                    view! { <option value=v selected=move || value.get() == selected>{text}</option> }
                })
                .collect_view()}
        </select>
    }
}

/// A checkbox bound to a bool signal.
#[component]
pub fn CheckInput(
    value: RwSignal<bool>,
    #[prop(into)] testid: String,
    #[prop(into, optional)] id: String,
    #[prop(optional)] disabled: bool,
) -> impl IntoView {
    view! {
        <input
            type="checkbox"
            id=(!id.is_empty()).then_some(id)
            data-testid=testid
            disabled=disabled
            checked=move || value.get()
            prop:checked=move || value.get()
            on:change=move |ev| value.set(event_target_checked(&ev))
        />
    }
}
