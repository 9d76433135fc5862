//! The title, and where requests go: the payload URL and its port.

use super::{MAX_TITLE, MAX_URL, ValidateOptions};
use crate::model::WebhookInput;
use crate::render::effective_url;

pub(super) fn title(input: &WebhookInput, err: &mut impl FnMut(String, &str, String)) {
    let title = input.title.trim();
    if title.is_empty() {
        err(
            "title".into(),
            "required",
            "Give the webhook a title.".into(),
        );
    } else if title.chars().count() > MAX_TITLE {
        err(
            "title".into(),
            "too_long",
            format!("Keep the title under {MAX_TITLE} characters."),
        );
    }
}

pub(super) fn url_and_port(
    input: &WebhookInput,
    options: ValidateOptions,
    err: &mut impl FnMut(String, &str, String),
) {
    let url_text = input.url.trim();
    if url_text.is_empty() {
        err(
            "url".into(),
            "required",
            "Enter the payload URL, e.g. https://example.com/hook.".into(),
        );
        return;
    }
    let url = match payload_url(url_text) {
        Ok(url) => url,
        Err(message) => return err("url".into(), "invalid_url", message),
    };
    if options.https_only && url.scheme() == "http" {
        err(
            "url".into(),
            "https_required",
            "This server only sends to https:// URLs.".into(),
        );
    }
    if let Some(port) = input.port {
        match url.port() {
            Some(in_url) if in_url != port => err(
                "port".into(),
                "port_conflict",
                format!("The URL says port {in_url} but this field says {port}; use one."),
            ),
            _ => {}
        }
        if port == 0 {
            err(
                "port".into(),
                "invalid_port",
                "The port must be between 1 and 65535.".into(),
            );
        }
    }
    if effective_url(url_text, input.port).is_err() {
        err(
            "port".into(),
            "invalid_port",
            "This URL cannot take a port.".into(),
        );
    }
}

/// The payload URL, or why it cannot be one.
fn payload_url(text: &str) -> Result<url::Url, String> {
    if text.len() > MAX_URL {
        return Err(format!("The URL is longer than {MAX_URL} characters."));
    }
    let url = url::Url::parse(text).map_err(|e| {
        format!("This is not a valid URL ({e}); it should look like https://example.com/hook.")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        Err(format!(
            "The URL must start with http:// or https://, not {}://.",
            url.scheme()
        ))
    } else if url.host_str().is_none_or(str::is_empty) {
        Err("The URL has no host name.".into())
    } else if !url.username().is_empty() || url.password().is_some() {
        Err("Put credentials in Authentication, not in the URL, so they stay secret.".into())
    } else if url.fragment().is_some() {
        Err("Remove the #fragment: it is never sent to the server.".into())
    } else {
        Ok(url)
    }
}
