//! How it is delivered: execution and delivery mode, retries, timeout, and the active toggle.

use leptos::prelude::*;

use engine::model::DeliveryMode;

use super::{Fieldset, LabeledText, pairs};
use crate::pages::inputs::{CheckInput, SelectInput};

#[component]
pub(super) fn DeliveryFields(of: Fieldset) -> impl IntoView {
    let Fieldset {
        form,
        errors,
        readonly,
    } = of;
    view! {
        <fieldset disabled=readonly>
            <legend>"Delivery"</legend>
            <div class="row">
                <div>
                    <label for="f-exec">"Execution"</label>
                    <SelectInput value=form.execution_mode id="f-exec" testid="execution-mode"
                        options=pairs(&[("background", "Background (never slows the action)"), ("inline", "Inline (the action waits for the first attempt)")]) />
                </div>
                <div>
                    <label for="f-delivery">"Delivery"</label>
                    <SelectInput value=form.delivery_mode id="f-delivery" testid="delivery-mode"
                        options=pairs(&[("fast", DeliveryMode::Fast.label()), ("queued", DeliveryMode::Queued.label())]) />
                </div>
            </div>
            <div class="row">
                <div>
                    <LabeledText label="Max attempts" value=form.max_attempts id="f-attempts" testid="max-attempts" kind="number" errors field="retry.max_attempts" />
                </div>
                <div>
                    <LabeledText label="Retry schedule (seconds)" value=form.schedule id="f-schedule" testid="schedule" errors field="retry.schedule_s" />
                </div>
                <div>
                    <LabeledText label="Timeout (ms)" value=form.timeout_ms id="f-timeout" testid="timeout" kind="number" errors field="timeout_ms" />
                </div>
            </div>
            <label class="check" for="f-active">
                <CheckInput value=form.active id="f-active" testid="active" />
                "Active"
            </label>
        </fieldset>
    }
}
