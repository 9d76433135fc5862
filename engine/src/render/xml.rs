//! The XML formats: generic XML (keys as element names where they can be)
//! and ADF 1.0, the auto industry's lead format.

use std::fmt::Write;

use serde_json::Value;

use super::envelope;
use crate::fields::{self, to_text};
use crate::model::Event;

/// Text escaped for XML, without the characters XML 1.0 forbids (control
/// characters other than tab, newline and carriage return; U+FFFE, U+FFFF):
/// a receiver's parser would refuse the whole document for one of them.
pub(super) fn esc(text: &str) -> String {
    let allowed = |c: char| match c {
        '\t' | '\n' | '\r' => true,
        '\u{FFFE}' | '\u{FFFF}' => false,
        c => c >= ' ',
    };
    if text.chars().all(allowed) {
        quick_xml::escape::escape(text).into_owned()
    } else {
        let kept: String = text.chars().filter(|&c| allowed(c)).collect();
        quick_xml::escape::escape(&kept).into_owned()
    }
}

/// An XML element name can be the key itself only when it is a plain name;
/// anything else is written as `<field key="…">` so keys stay verbatim.
fn is_xml_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        && !key.to_ascii_lowercase().starts_with("xml")
}

fn xml_value(name: &str, value: &Value, out: &mut String) {
    let (open, close) = if is_xml_name(name) {
        (format!("<{name}"), format!("</{name}>"))
    } else {
        (
            format!("<field key=\"{}\"", esc(name)),
            "</field>".to_string(),
        )
    };
    match value {
        Value::Null => {
            out.push_str(&open);
            out.push_str("/>");
        }
        Value::Object(map) => {
            out.push_str(&open);
            out.push('>');
            for (k, v) in map {
                xml_value(k, v, out);
            }
            out.push_str(&close);
        }
        Value::Array(items) => {
            out.push_str(&open);
            out.push('>');
            for item in items {
                xml_value("item", item, out);
            }
            out.push_str(&close);
        }
        scalar => {
            out.push_str(&open);
            out.push('>');
            out.push_str(&esc(&to_text(Some(scalar))));
            out.push_str(&close);
        }
    }
}

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

pub(super) fn generic_xml(mapped: Option<&[(String, Value)]>, event: &Event) -> String {
    let mut out = String::from(XML_DECL);
    match mapped {
        Some(rows) => {
            let _ = write!(
                out,
                "<payload type=\"{}\" id=\"{}\">",
                esc(&event.event_type),
                esc(&event.id)
            );
            for (k, v) in rows {
                xml_value(k, v, &mut out);
            }
            out.push_str("</payload>");
        }
        None => xml_value("event", &envelope(event), &mut out),
    }
    out
}

/// ADF 1.0: one `<prospect>` with the request date, the vehicle of interest,
/// the customer's contact and the vendor (the account). Mapping rows, if
/// any, are written as `key: value` lines in the customer's comments.
pub(super) fn adf_xml(mapped: Option<&[(String, Value)]>, event: &Event) -> String {
    let mut out = String::from(XML_DECL);
    out.push_str("<?adf version=\"1.0\"?>\n<adf><prospect status=\"new\">");
    let _ = write!(
        out,
        "<id sequence=\"1\" source=\"Postback\">{}</id><requestdate>{}</requestdate>",
        esc(&event.id),
        event
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    );
    adf_vehicle(&mut out, event.data.get("vehicle").unwrap_or(&Value::Null));
    adf_customer(&mut out, mapped, event);
    adf_vendor(&mut out, event);
    out.push_str("<provider><name part=\"full\">Postback</name></provider></prospect></adf>");
    out
}

/// A field of a record as escaped text ("" when missing).
fn text(v: &Value, path: &str) -> String {
    esc(&to_text(fields::lookup(v, path)))
}

fn adf_vehicle(out: &mut String, vehicle: &Value) {
    let status = match to_text(vehicle.get("condition")).as_str() {
        "new" => "new",
        _ => "used",
    };
    let _ = write!(
        out,
        "<vehicle interest=\"buy\" status=\"{status}\"><year>{}</year><make>{}</make><model>{}</model>",
        text(vehicle, "year"),
        text(vehicle, "make"),
        text(vehicle, "model"),
    );
    if vehicle.get("vin").is_some() {
        let _ = write!(out, "<vin>{}</vin>", text(vehicle, "vin"));
    }
    out.push_str("</vehicle>");
}

/// The contact (the event's record, or the one it names) and the
/// comments, which carry the mapping rows.
fn adf_customer(out: &mut String, mapped: Option<&[(String, Value)]>, event: &Event) {
    let data = &event.data;
    let contact = if event.noun() == "contact" {
        Some(data)
    } else {
        data.get("contact")
    }
    .unwrap_or(&Value::Null);
    let _ = write!(
        out,
        "<customer><contact><name part=\"first\">{}</name><name part=\"last\">{}</name><email>{}</email><phone>{}</phone>",
        text(contact, "first_name"),
        text(contact, "last_name"),
        text(contact, "email"),
        text(contact, "phone"),
    );
    if let Some(address) = contact.get("address") {
        let _ = write!(
            out,
            "<address><street line=\"1\">{}</street><city>{}</city><regioncode>{}</regioncode><postalcode>{}</postalcode><country>{}</country></address>",
            text(address, "street"),
            text(address, "city"),
            text(address, "state"),
            text(address, "postcode"),
            text(address, "country"),
        );
    }
    out.push_str("</contact>");
    let mut comments: Vec<String> = Vec::new();
    if let Some(c) = data.get("comments").and_then(Value::as_str) {
        comments.push(c.to_string());
    }
    for (k, v) in mapped.unwrap_or_default() {
        comments.push(format!("{k}: {}", to_text(Some(v))));
    }
    if !comments.is_empty() {
        let _ = write!(out, "<comments>{}</comments>", esc(&comments.join("\n")));
    }
    out.push_str("</customer>");
}

/// The account the lead comes from, with the receiver's own id for it.
fn adf_vendor(out: &mut String, event: &Event) {
    out.push_str("<vendor>");
    if let Some(external_ref) = &event.account.external_ref {
        let _ = write!(
            out,
            "<id source=\"external_ref\">{}</id>",
            esc(external_ref)
        );
    }
    let _ = write!(
        out,
        "<vendorname>{0}</vendorname><contact><name part=\"full\">{0}</name></contact></vendor>",
        esc(&event.account.name)
    );
}
