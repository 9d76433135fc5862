//! The events that fire the webhook, each with its filters.

use leptos::prelude::*;

use engine::catalog::{FilterChoices, ready_filters};
use engine::model::{Filter, FilterOp, Trigger};

use super::state::{filter_row, trigger_row};
use super::{FieldErr, Fieldset, options};
use crate::pages::inputs::{SelectInput, TextInput};

#[component]
pub(super) fn TriggerFields(of: Fieldset) -> impl IntoView {
    let Fieldset {
        form,
        errors,
        readonly,
    } = of;
    let choices = use_context::<StoredValue<FilterChoices>>()
        .unwrap_or_else(|| StoredValue::new(FilterChoices::default()));
    view! {
        <fieldset disabled=readonly>
            <legend>"Triggers"</legend>
            <p class="hint">"The events that fire this webhook, each with optional filters on its fields."</p>
            <FieldErr errors field="triggers" />
            <For each=move || form.triggers.get() key=|t| t.id let:t>
                {
                    let index = move || form.triggers.with(|ts| ts.iter().position(|x| x.id == t.id).unwrap_or(0));
                    view! {
                        <div class="trigger" data-testid="trigger-row">
                            <div class="row">
                                <TextInput value=t.event_type testid="trigger-type" list="event-types" label="Event type" placeholder="contact.created" />
                                <button type="button" class="small" data-testid="add-filter"
                                    on:click=move |_| t.filters.update(|fs| fs.push(filter_row(&Filter::default())))>"Add filter"</button>
                                <button type="button" class="small" data-testid="remove-trigger"
                                    on:click=move |_| form.triggers.update(|ts| ts.retain(|x| x.id != t.id))>"Remove"</button>
                            </div>
                            {move || view! { <FieldErr errors field=format!("triggers[{}].event_type", index()) /> }}
                            {move || {
                                let ready = choices.with_value(|c| ready_filters(t.event_type.get().trim(), c));
                                (!ready.is_empty()).then(|| {
                                    let picks = ready.clone();
                                    view! {
                                        <div class="row">
                                            <div>
                                                <label class="visually-hidden" for=format!("ready-{}", t.id)>"Add a ready-made filter"</label>
                                                <select id=format!("ready-{}", t.id) data-testid="ready-filter"
                                                    on:change=move |ev| {
                                                        let chosen = event_target_value(&ev);
                                                        if let Some(pick) = chosen.parse::<usize>().ok().and_then(|n| picks.get(n)) {
                                                            t.filters.update(|fs| fs.push(filter_row(&pick.filter)));
                                                        }
                                                        event_target::<leptos::web_sys::HtmlSelectElement>(&ev).set_value("");
                                                    }>
                                                    <option value="" selected>"Add a ready-made filter…"</option>
                                                    {ready.iter().enumerate().map(|(n, r)| view! { <option value=n.to_string()>{r.label.clone()}</option> }).collect_view()}
                                                </select>
                                            </div>
                                        </div>
                                    }
                                })
                            }}
                            <For each=move || t.filters.get() key=|f| f.id let:f>
                                {
                                    let findex = move || t.filters.with(|fs| fs.iter().position(|x| x.id == f.id).unwrap_or(0));
                                    view! {
                                        <div class="row filter-row" data-testid="filter-row">
                                            <TextInput value=f.field testid="filter-field" list="field-options" label="Filter field" placeholder="lead.type" />
                                            <SelectInput value=f.op testid="filter-op" label="Filter operator" options=options(&FilterOp::ALL, FilterOp::as_str, FilterOp::label) />
                                            {move || (f.op.get() != "exists").then(|| view! {
                                                <TextInput value=f.value testid="filter-value" label="Filter value"
                                                    placeholder=if f.op.get() == "in" { "call, chat, form" } else { "value" } />
                                            })}
                                            <button type="button" class="small" data-testid="remove-filter"
                                                on:click=move |_| t.filters.update(|fs| fs.retain(|x| x.id != f.id))>"Remove"</button>
                                        </div>
                                        {move || view! { <FieldErr errors field=format!("triggers[{}].filters[{}].field", index(), findex()) /> }}
                                        {move || view! { <FieldErr errors field=format!("triggers[{}].filters[{}].value", index(), findex()) /> }}
                                    }
                                }
                            </For>
                        </div>
                    }
                }
            </For>
            <button type="button" class="small" data-testid="add-trigger"
                on:click=move |_| form.triggers.update(|ts| ts.push(trigger_row(&Trigger::default())))>"Add trigger"</button>
        </fieldset>
    }
}
