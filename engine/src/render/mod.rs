//! Payload rendering: an event plus a webhook's shape gives the exact HTTP
//! request to send. The same code runs in the delivery engine and, compiled
//! to WASM, in the console's live preview.
//!
//! Formats (PRODUCT.md section 2):
//! - `json`: the envelope `{"id","type","timestamp","account","actor","data"}`;
//!   with mapping rows, `data` is the mapped object.
//! - `json_mapped`: the mapped object alone.
//! - `form`: `application/x-www-form-urlencoded` pairs.
//! - `xml`: generic XML; `adf`: ADF 1.0 for lead and contact events.
//! - method GET: no body; the pairs go into the query string.
//!
//! Without mapping rows the whole envelope is sent (flattened to dotted keys
//! where the format is flat).

mod xml;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::fields::{self, Piece, resolve, to_text};
use crate::model::{Auth, Event, Format, Header, MappingRow, MappingValue, Method, WebhookInput};
use xml::{adf_xml, generic_xml};

/// The request Postback will send, without the signature headers (those
/// depend on the send time and are added by the delivery engine).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// `None` for GET.
    pub body: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the payload URL is not valid: {0}")]
    Url(String),
    #[error("mapping row {row}: {message}")]
    Template { row: usize, message: String },
}

/// Renders the request for one event.
pub fn render(webhook: &WebhookInput, event: &Event) -> Result<RenderedRequest, RenderError> {
    let mut url = effective_url(&webhook.url, webhook.port).map_err(RenderError::Url)?;
    let mapped = map_fields(&webhook.mapping, event)?;
    let mut headers: Vec<(String, String)> = Vec::new();

    let body = if webhook.method == Method::Get {
        let pairs = flat_pairs(mapped.as_ref(), event);
        if !pairs.is_empty() {
            let mut query = url.query_pairs_mut();
            for (k, v) in &pairs {
                query.append_pair(k, v);
            }
        }
        None
    } else {
        let (content_type, body) = match webhook.format {
            Format::Json => {
                let mut envelope = envelope(event);
                if let Some(mapped) = mapped {
                    envelope["data"] = Value::Object(mapped_object(&mapped));
                }
                ("application/json", envelope.to_string())
            }
            Format::JsonMapped => match mapped {
                Some(mapped) => (
                    "application/json",
                    Value::Object(mapped_object(&mapped)).to_string(),
                ),
                None => ("application/json", envelope(event).to_string()),
            },
            Format::Form => {
                let mut serializer = form_urlencoded::Serializer::new(String::new());
                for (k, v) in flat_pairs(mapped.as_ref(), event) {
                    serializer.append_pair(&k, &v);
                }
                ("application/x-www-form-urlencoded", serializer.finish())
            }
            Format::Xml => ("application/xml", generic_xml(mapped.as_deref(), event)),
            Format::Adf => ("application/xml", adf_xml(mapped.as_deref(), event)),
        };
        headers.push(("content-type".into(), content_type.into()));
        Some(body)
    };

    match &webhook.auth {
        Auth::None => {}
        Auth::Header { name, value } => headers.push((name.clone(), value.clone())),
        Auth::Basic { username, password } => {
            headers.push(("authorization".into(), basic_auth(username, password)))
        }
    }
    for Header { name, value } in &webhook.headers {
        headers.push((name.clone(), value.clone()));
    }
    Ok(RenderedRequest {
        method: webhook.method.as_str().into(),
        url: url.into(),
        headers,
        body,
    })
}

/// The payload URL with the separate port applied.
pub fn effective_url(url: &str, port: Option<u16>) -> Result<url::Url, String> {
    let mut parsed = url::Url::parse(url.trim()).map_err(|e| e.to_string())?;
    if let Some(port) = port
        && parsed.port().is_none()
    {
        parsed
            .set_port(Some(port))
            .map_err(|()| "this URL cannot take a port".to_string())?;
    }
    Ok(parsed)
}

/// The Standard Webhooks JSON envelope.
pub fn envelope(event: &Event) -> Value {
    json!({
        "id": event.id,
        "type": event.event_type,
        "timestamp": event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "account": {"id": event.account.id, "external_ref": event.account.external_ref},
        "actor": event.actor,
        "data": event.data,
    })
}

/// Evaluates the mapping rows in order; `None` when there are none.
fn map_fields(
    rows: &[MappingRow],
    event: &Event,
) -> Result<Option<Vec<(String, Value)>>, RenderError> {
    if rows.is_empty() {
        return Ok(None);
    }
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let value = match &row.value {
                MappingValue::Field(path) => resolve(event, path.trim()).unwrap_or(Value::Null),
                MappingValue::Constant(text) => Value::String(text.clone()),
                MappingValue::Template(text) => {
                    let pieces =
                        fields::parse_template(text).map_err(|e| RenderError::Template {
                            row: i + 1,
                            message: e.to_string(),
                        })?;
                    Value::String(fields::fill(&pieces, event))
                }
            };
            Ok((row.key.clone(), value))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Mapped rows as a JSON object. Keys are verbatim; a repeated key keeps its
/// last value (the console rejects duplicates before they get here).
fn mapped_object(mapped: &[(String, Value)]) -> Map<String, Value> {
    mapped.iter().cloned().collect()
}

/// Key/value text pairs for form bodies and query strings.
fn flat_pairs(mapped: Option<&Vec<(String, Value)>>, event: &Event) -> Vec<(String, String)> {
    match mapped {
        Some(rows) => rows
            .iter()
            .map(|(k, v)| (k.clone(), to_text(Some(v))))
            .collect(),
        None => {
            let mut out = Vec::new();
            flatten_pairs("", &envelope(event), &mut out);
            out
        }
    }
}

fn flatten_pairs(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_pairs(&path, inner, out);
            }
        }
        other => out.push((prefix.to_string(), to_text(Some(other)))),
    }
}

pub(crate) fn basic_auth(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

/// Pieces of a template, for validation.
pub fn template_fields(template: &str) -> Result<Vec<String>, fields::TemplateError> {
    Ok(fields::parse_template(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Field(f) => Some(f),
            Piece::Text(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use quick_xml::events::Event as XmlEvent;

    fn sample(t: &str) -> Event {
        Catalog::builtin().sample(t).unwrap()
    }

    fn row(key: &str, value: MappingValue) -> MappingRow {
        MappingRow {
            key: key.into(),
            value,
        }
    }

    fn awkward_rows() -> Vec<MappingRow> {
        vec![
            row(
                "First Name",
                MappingValue::Field("contact.first_name".into()),
            ),
            row(
                "ünïcødé ключ",
                MappingValue::Constant("naïve café ☕".into()),
            ),
            row(
                "a&b=c",
                MappingValue::Constant("x&y=z <tag> \"q\" 'a'".into()),
            ),
            row(
                "ref",
                MappingValue::Template("{account.id}-{contact.id}".into()),
            ),
            row("missing", MappingValue::Field("contact.middle_name".into())),
            row("city", MappingValue::Field("contact.address.city".into())),
        ]
    }

    fn hook(format: Format, method: Method, mapping: Vec<MappingRow>) -> WebhookInput {
        WebhookInput {
            title: "t".into(),
            url: "https://crm.example.com/in?src=pb".into(),
            format,
            method,
            mapping,
            ..WebhookInput::default()
        }
    }

    fn header<'a>(r: &'a RenderedRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Parses XML completely, failing on any syntax error; returns element names.
    fn parse_xml(xml: &str) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut names = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                XmlEvent::Start(e) | XmlEvent::Empty(e) => {
                    names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap())
                }
                XmlEvent::Eof => break,
                _ => {}
            }
        }
        names
    }

    #[test]
    fn json_envelope_without_mapping_carries_the_whole_event() {
        let r = render(
            &hook(Format::Json, Method::Post, vec![]),
            &sample("contact.created"),
        )
        .unwrap();
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["type"], "contact.created");
        assert_eq!(body["account"]["external_ref"], "DEALER-42");
        assert_eq!(body["timestamp"], "2026-11-22T10:00:00Z");
        assert_eq!(body["data"]["first_name"], "Jane");
        assert_eq!(body["actor"]["name"], "Sam Seller");
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(r.method, "POST");
    }

    #[test]
    fn json_envelope_with_mapping_puts_mapped_fields_in_data() {
        let r = render(
            &hook(Format::Json, Method::Post, awkward_rows()),
            &sample("contact.created"),
        )
        .unwrap();
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["id"], "evt_sample000000000001");
        assert_eq!(body["data"]["First Name"], "Jane");
        assert_eq!(body["data"]["ref"], "acc_demo-c_1001");
    }

    #[test]
    fn json_mapped_keeps_keys_verbatim_and_types() {
        let mut rows = awkward_rows();
        rows.push(row("year", MappingValue::Field("vehicle.year".into())));
        let r = render(
            &hook(Format::JsonMapped, Method::Put, rows),
            &sample("lead.created"),
        )
        .unwrap();
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["First Name"], "Jane");
        assert_eq!(body["ünïcødé ключ"], "naïve café ☕");
        assert_eq!(body["a&b=c"], "x&y=z <tag> \"q\" 'a'");
        assert_eq!(body["ref"], "acc_demo-c_1001");
        assert_eq!(body["missing"], Value::Null);
        assert_eq!(body["city"], "Springfield");
        assert_eq!(body["year"], 2023, "numbers stay numbers");
        assert_eq!(r.method, "PUT");
        // Keys keep their order.
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>();
        assert!(keys.contains(&"First Name"));
    }

    #[test]
    fn form_encodes_awkward_keys_and_values_and_round_trips() {
        let r = render(
            &hook(Format::Form, Method::Post, awkward_rows()),
            &sample("contact.created"),
        )
        .unwrap();
        let body = r.body.clone().unwrap();
        assert!(body.starts_with("First+Name=Jane&"), "{body}");
        assert!(
            body.contains("a%26b%3Dc=x%26y%3Dz+%3Ctag%3E+%22q%22+%27a%27"),
            "{body}"
        );
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs[1], ("ünïcødé ключ".into(), "naïve café ☕".into()));
        assert_eq!(pairs[4], ("missing".into(), String::new()));
        assert_eq!(
            header(&r, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
    }

    #[test]
    fn form_without_mapping_flattens_the_envelope() {
        let r = render(
            &hook(Format::Form, Method::Post, vec![]),
            &sample("contact.created"),
        )
        .unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(r.body.unwrap().as_bytes())
            .into_owned()
            .collect();
        assert!(pairs.contains(&("data.address.city".into(), "Springfield".into())));
        assert!(pairs.contains(&("account.external_ref".into(), "DEALER-42".into())));
    }

    #[test]
    fn get_puts_pairs_in_the_query_string_after_the_existing_query() {
        let r = render(
            &hook(Format::Json, Method::Get, awkward_rows()),
            &sample("contact.created"),
        )
        .unwrap();
        assert_eq!(r.body, None);
        assert!(header(&r, "content-type").is_none());
        let url = url::Url::parse(&r.url).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("src".into(), "pb".into()));
        assert_eq!(pairs[1], ("First Name".into(), "Jane".into()));
        assert_eq!(pairs[3], ("a&b=c".into(), "x&y=z <tag> \"q\" 'a'".into()));
    }

    #[test]
    fn xml_leaves_out_what_xml_1_0_forbids() {
        let mut event = sample("lead.created");
        event.data["contact"]["first_name"] = json!("Ja\u{0}ne\u{1b}\tX\u{FFFE}");
        let rows = vec![row(
            "name",
            MappingValue::Field("contact.first_name".into()),
        )];
        for format in [Format::Xml, Format::Adf] {
            let body = render(&hook(format, Method::Post, rows.clone()), &event)
                .unwrap()
                .body
                .unwrap();
            assert!(body.contains("Jane\tX"), "{body}");
            let bad = body
                .chars()
                .find(|&c| (c < ' ' && !"\t\n\r".contains(c)) || c == '\u{FFFE}');
            assert_eq!(bad, None, "{format:?}");
        }
    }

    #[test]
    fn generic_xml_escapes_and_parses() {
        let r = render(
            &hook(Format::Xml, Method::Post, awkward_rows()),
            &sample("contact.created"),
        )
        .unwrap();
        let body = r.body.unwrap();
        let names = parse_xml(&body);
        assert_eq!(names[0], "payload");
        assert!(
            body.contains("<field key=\"First Name\">Jane</field>"),
            "{body}"
        );
        assert!(
            body.contains("x&amp;y=z &lt;tag&gt; &quot;q&quot; &apos;a&apos;"),
            "{body}"
        );
        assert!(body.contains("<ref>acc_demo-c_1001</ref>"));
        assert!(body.contains("<missing/>"));

        let r = render(
            &hook(Format::Xml, Method::Post, vec![]),
            &sample("lead.created"),
        )
        .unwrap();
        let body = r.body.unwrap();
        let names = parse_xml(&body);
        assert_eq!(names[0], "event");
        assert!(names.contains(&"external_ref".to_string()));
        assert!(
            body.contains("<statuses><item>New</item></statuses>"),
            "{body}"
        );
    }

    #[test]
    fn adf_has_the_required_elements_and_parses() {
        for t in ["lead.created", "contact.created"] {
            let rows = vec![row(
                "api_hash",
                MappingValue::Constant("s3cr3t & <co>".into()),
            )];
            let r = render(&hook(Format::Adf, Method::Post, rows), &sample(t)).unwrap();
            let body = r.body.unwrap();
            assert!(body.contains("<?adf version=\"1.0\"?>"));
            let names = parse_xml(&body);
            for required in [
                "adf",
                "prospect",
                "requestdate",
                "vehicle",
                "year",
                "make",
                "model",
                "customer",
                "contact",
                "name",
                "vendor",
                "vendorname",
            ] {
                assert!(
                    names.iter().any(|n| n == required),
                    "{t}: <{required}> missing in {body}"
                );
            }
            assert!(body.contains("<name part=\"first\">Jane</name>"));
            assert!(body.contains("<email>jane.doe@example.com</email>"));
            assert!(body.contains("<vendorname>Springfield Motors</vendorname>"));
            assert!(body.contains("api_hash: s3cr3t &amp; &lt;co&gt;"), "{body}");
        }
        let lead = render(
            &hook(Format::Adf, Method::Post, vec![]),
            &sample("lead.created"),
        )
        .unwrap();
        assert!(lead.body.unwrap().contains("<make>Honda</make>"));
    }

    #[test]
    fn auth_and_extra_headers_are_added() {
        let mut h = hook(Format::Json, Method::Post, vec![]);
        h.auth = Auth::Basic {
            username: "user".into(),
            password: "pa:ss".into(),
        };
        h.headers = vec![Header {
            name: "X-Source".into(),
            value: "crm".into(),
        }];
        let r = render(&h, &sample("contact.created")).unwrap();
        assert_eq!(header(&r, "authorization"), Some("Basic dXNlcjpwYTpzcw=="));
        assert_eq!(header(&r, "X-Source"), Some("crm"));
        h.auth = Auth::Header {
            name: "X-Api-Key".into(),
            value: "k".into(),
        };
        let r = render(&h, &sample("contact.created")).unwrap();
        assert_eq!(header(&r, "x-api-key"), Some("k"));
    }

    #[test]
    fn port_field_applies_when_url_has_none() {
        let mut h = hook(Format::Json, Method::Post, vec![]);
        h.url = "http://127.0.0.1/hook".into();
        h.port = Some(8080);
        assert_eq!(
            render(&h, &sample("contact.created")).unwrap().url,
            "http://127.0.0.1:8080/hook"
        );
    }

    #[test]
    fn basic_auth_is_rfc_7617() {
        // RFC 7617 section 2's example, and a password with a colon.
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("a", "b:c"), "Basic YTpiOmM=");
    }

    #[test]
    fn a_broken_template_is_an_error_not_a_panic() {
        let rows = vec![row("x", MappingValue::Template("{contact.id".into()))];
        let err = render(
            &hook(Format::Json, Method::Post, rows),
            &sample("contact.created"),
        )
        .unwrap_err();
        assert!(matches!(err, RenderError::Template { row: 1, .. }));
    }
}
