//! The key/value mapping rows: added, removed and reordered, with warnings on keys that will surprise the receiver.

use leptos::prelude::*;

use engine::model::MappingValue;

use super::state::map_row;
use super::{FieldErr, Fieldset, pairs};
use crate::pages::inputs::{SelectInput, TextInput};

#[component]
pub(super) fn MappingFields(of: Fieldset) -> impl IntoView {
    let Fieldset {
        form,
        errors,
        readonly,
    } = of;
    view! {
        <fieldset disabled=readonly>
            <legend>"Field mapping"</legend>
            <p class="hint">"Keys are sent exactly as typed. A value is a record field, a constant, or a template such as "
                <code>"{account.id}-{contact.id}"</code> ". With no rows the whole event is sent."</p>
            <For each=move || form.mapping.get() key=|m| m.id let:m>
                {
                    let index = move || form.mapping.with(|ms| ms.iter().position(|x| x.id == m.id).unwrap_or(0));
                    let count = move || form.mapping.with(Vec::len);
                    let warning = move || {
                        let key = m.key.get();
                        if !key.is_empty() && key.trim() != key {
                            Some("This key starts or ends with a space; it will be sent like that.".to_string())
                        } else if !key.is_empty() && form.mapping.with(|ms| ms.iter().filter(|x| x.key.get() == key).count() > 1) {
                            Some("This key is used more than once.".to_string())
                        } else {
                            None
                        }
                    };
                    let placeholder = move || match m.kind.get().as_str() {
                        "constant" => "fixed text",
                        "template" => "{account.id}-{contact.id}",
                        _ => "contact.first_name",
                    };
                    view! {
                        <div class="row mapping-row" data-testid="mapping-row">
                            <div>
                                <TextInput value=m.key testid="mapping-key" label="Key" placeholder="key" invalid=Signal::derive(move || errors.with(|es| es.iter().any(|e| e.field == format!("mapping[{}].key", index())))) />
                                {move || view! { <FieldErr errors field=format!("mapping[{}].key", index()) /> }}
                                {move || warning().map(|w| view! { <p class="field-warning" data-testid="mapping-warning">{w}</p> })}
                            </div>
                            <SelectInput value=m.kind testid="mapping-kind" label="Value type"
                                options=pairs(&[("field", "Field"), ("constant", "Constant"), ("template", "Template")]) />
                            <div>
                                {move || view! {
                                    <TextInput value=m.value testid="mapping-value" label="Value" placeholder=placeholder()
                                        list=if m.kind.get() == "field" { "field-options" } else { "" } />
                                }}
                                {move || view! { <FieldErr errors field=format!("mapping[{}].value", index()) /> }}
                            </div>
                            <div class="row-actions">
                                <button type="button" class="small" data-testid="move-up" aria-label="Move up"
                                    disabled=move || index() == 0
                                    on:click=move |_| { let i = index(); form.mapping.update(|ms| if i > 0 { ms.swap(i, i - 1) }) }>"↑"</button>
                                <button type="button" class="small" data-testid="move-down" aria-label="Move down"
                                    disabled=move || { index() + 1 >= count() }
                                    on:click=move |_| { let i = index(); form.mapping.update(|ms| if i + 1 < ms.len() { ms.swap(i, i + 1) }) }>"↓"</button>
                                <button type="button" class="small" data-testid="remove-mapping"
                                    on:click=move |_| form.mapping.update(|ms| ms.retain(|x| x.id != m.id))>"Remove"</button>
                            </div>
                        </div>
                    }
                }
            </For>
            <button type="button" class="small" data-testid="add-mapping"
                on:click=move |_| form.mapping.update(|ms| ms.push(map_row("", &MappingValue::Field(String::new()))))>"Add mapping row"</button>
        </fieldset>
    }
}
