//! The key's account: its name and `external_ref`, the receiver's own id
//! for it (a DealerID, an AccountID), which every payload carries.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::get;
use axum::{Json, Router};
use engine::model::Account;
use engine::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ErrorBody, Refused};
use super::{ApiAccount, ApiError, ApiState};

pub(super) fn router() -> Router<ApiState> {
    Router::new().route("/account", get(get_account).patch(patch_account))
}

/// The fields of an account that change.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    name: String,
    /// The receiver's id for this account, e.g. its DealerID; `null` for none.
    #[serde(default)]
    external_ref: Option<String>,
}

/// The account the API key belongs to.
#[utoipa::path(get, path = "/api/v1/account", tag = "account",
    responses(
        (status = 200, description = "The account", body = engine::model::Account),
        Refused,
    ))]
pub(crate) async fn get_account(ApiAccount(account): ApiAccount) -> Json<Account> {
    Json(account)
}

/// Renames the account or sets its `external_ref`; events accepted from
/// now on carry the new values.
#[utoipa::path(patch, path = "/api/v1/account", tag = "account",
    request_body(content = AccountInput, example = json!({"external_ref": "DEALER-42"})),
    responses(
        (status = 200, description = "The account", body = engine::model::Account),
        Refused,
        (status = 422, description = "Fields are invalid", body = ErrorBody),
    ))]
pub(crate) async fn patch_account(
    State(store): State<Store>,
    ApiAccount(account): ApiAccount,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Account>, ApiError> {
    let Json(patch) = body?;
    let current = AccountInput {
        name: account.name.clone(),
        external_ref: account.external_ref.clone(),
    };
    let input: AccountInput = super::merge_patch(&current, patch)?;
    let account = store
        .update_account(&account.id, &input.name, input.external_ref.as_deref())
        .await?;
    Ok(Json(account))
}
