//! Where requests go: the title, the payload URL and port, the method and the payload format.

use leptos::prelude::*;

use engine::model::{Format, Method};

use super::{FieldErr, Fieldset, LabeledText, options};
use crate::pages::inputs::SelectInput;

#[component]
pub(super) fn DestinationFields(of: Fieldset) -> impl IntoView {
    let Fieldset {
        form,
        errors,
        readonly,
    } = of;
    view! {
        <fieldset disabled=readonly>
            <legend>"Destination"</legend>
            <LabeledText label="Title" value=form.title id="f-title" testid="title" errors field="title" />

            <LabeledText label="Payload URL" value=form.url id="f-url" testid="url" kind="url" placeholder="https://example.com/hook" errors field="url" />

            <div class="row">
                <div>
                    <LabeledText label="Port (optional)" value=form.port id="f-port" testid="port" kind="number" placeholder="from the URL" errors field="port" />
                </div>
                <div>
                    <label for="f-method">"Method"</label>
                    <SelectInput value=form.method id="f-method" testid="method" options=options(&Method::ALL, Method::as_str, Method::as_str) />
                </div>
                <div>
                    <label for="f-format">"Payload format"</label>
                    <SelectInput value=form.format id="f-format" testid="format" options=options(&Format::ALL, Format::as_str, Format::label) />
                    <FieldErr errors field="format" />
                </div>
            </div>
        </fieldset>
    }
}
