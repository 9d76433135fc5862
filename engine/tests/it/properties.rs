//! Properties that hold for any input, checked on generated cases:
//! rendering, templates, URL and port validation, trigger filters and the
//! report's dates never panic, and each keeps its promise.

use chrono::{TimeZone, Utc};
use engine::catalog::Catalog;
use engine::model::{
    AccountRef, Event, Filter, FilterOp, Format, MappingRow, MappingValue, Method, Trigger,
    WebhookInput,
};
use engine::reports::{MAX_RANGE_DAYS, RangeQuery};
use engine::validate::{ValidateOptions, validate_webhook};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, a few levels deep, with any text in it.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn lead(data: Value) -> Event {
    Event {
        id: "evt_1".into(),
        event_type: "lead.created".into(),
        account: AccountRef {
            id: "acc_1".into(),
            name: "Dealer".into(),
            external_ref: Some("D-42".into()),
        },
        occurred_at: Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap(),
        actor: None,
        data,
    }
}

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![
        Just(Format::Json),
        Just(Format::JsonMapped),
        Just(Format::Form),
        Just(Format::Xml),
        Just(Format::Adf),
    ]
}

/// A mapping row of any kind, with any key and any template text.
fn mapping_row() -> impl Strategy<Value = MappingRow> {
    (
        any::<String>(),
        prop_oneof![
            "[a-z_.]{1,20}".prop_map(MappingValue::Field),
            any::<String>().prop_map(MappingValue::Constant),
            any::<String>().prop_map(MappingValue::Template),
        ],
    )
        .prop_map(|(key, value)| MappingRow { key, value })
}

/// A webhook that is valid but for, perhaps, its URL and port.
fn to(url: String, port: Option<u16>) -> WebhookInput {
    WebhookInput {
        title: "t".into(),
        url,
        port,
        triggers: vec![Trigger {
            event_type: "lead.created".into(),
            filters: vec![],
        }],
        ..WebhookInput::default()
    }
}

/// The fields validation finds fault with.
fn fields_at_fault(input: &WebhookInput) -> Vec<String> {
    validate_webhook(input, &Catalog::builtin(), ValidateOptions::default())
        .into_iter()
        .map(|e| e.field)
        .collect()
}

/// Characters XML 1.0 allows in a document.
fn xml_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any record, any mapping, any format: a request or a clear error,
    /// and the body is what its content type says.
    #[test]
    fn any_event_renders_in_every_format(
        data in json_value(),
        format in format(),
        mapping in prop::collection::vec(mapping_row(), 0..5),
        get in any::<bool>(),
    ) {
        let webhook = WebhookInput {
            url: "https://crm.example.com/hook?src=pb".into(),
            format,
            method: if get { Method::Get } else { Method::Post },
            mapping,
            ..WebhookInput::default()
        };
        let Ok(rendered) = engine::render::render(&webhook, &lead(data)) else {
            // Only a template that does not parse may refuse, and it says
            // which row.
            prop_assert!(webhook.mapping.iter().any(|r| matches!(r.value, MappingValue::Template(_))));
            return Ok(());
        };
        prop_assert!(url::Url::parse(&rendered.url).is_ok());
        let Some(body) = rendered.body else {
            prop_assert!(get);
            return Ok(());
        };
        match format {
            Format::Json | Format::JsonMapped => {
                prop_assert!(serde_json::from_str::<Value>(&body).is_ok(), "{body}");
            }
            Format::Form => {
                let pairs: Vec<(String, String)> =
                    form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                let again = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&pairs)
                    .finish();
                prop_assert_eq!(again, body);
            }
            Format::Xml | Format::Adf => {
                prop_assert!(body.chars().all(xml_allows), "{body:?}");
                let mut reader = quick_xml::Reader::from_str(&body);
                loop {
                    match reader.read_event() {
                        Ok(quick_xml::events::Event::Eof) => break,
                        Ok(_) => {}
                        Err(e) => prop_assert!(false, "not well-formed: {e}: {body}"),
                    }
                }
            }
        }
    }

    /// A template fills in its fields and keeps the text around them; text
    /// without braces is itself.
    #[test]
    fn templates_fill_their_fields_and_keep_the_rest(
        before in "[^{}]*",
        after in "[^{}]*",
        name in any::<String>(),
        any_text in any::<String>(),
    ) {
        let event = lead(json!({"contact": {"first_name": name}}));
        let template = format!("{before}{{contact.first_name}}{after}");
        let pieces = engine::fields::parse_template(&template).unwrap();
        prop_assert_eq!(engine::fields::fill(&pieces, &event), format!("{before}{name}{after}"));
        let plain = engine::fields::parse_template(&before).unwrap();
        prop_assert_eq!(engine::fields::fill(&plain, &event), before);
        // Any text at all parses or says why; neither panics.
        if let Ok(pieces) = engine::fields::parse_template(&any_text) {
            let _ = engine::fields::fill(&pieces, &event);
        }
    }

    /// Every port from 1 to 65535 is a valid destination port, in the URL
    /// or beside it; 0 and anything beyond are refused on the right field.
    #[test]
    fn ports_are_checked_at_their_bounds(
        host in "[a-z]{1,12}\\.example\\.com",
        port in 1u16..,
        beyond in 65_536u32..10_000_000,
        beside in any::<bool>(),
    ) {
        let check = |url: String, port: Option<u16>| {
            fields_at_fault(&to(url, port))
        };
        let good = if beside {
            check(format!("https://{host}/hook"), Some(port))
        } else {
            check(format!("https://{host}:{port}/hook"), None)
        };
        prop_assert!(good.is_empty(), "{good:?}");
        prop_assert_eq!(check(format!("https://{host}:{beyond}/hook"), None), vec!["url".to_string()]);
        prop_assert_eq!(check(format!("https://{host}/hook"), Some(0)), vec!["port".to_string()]);
    }

    /// Any text as a payload URL is accepted or refused on the URL field,
    /// never with a panic.
    #[test]
    fn any_url_text_is_judged_on_the_url_field(url in any::<String>(), port in any::<Option<u16>>()) {
        for field in fields_at_fault(&to(url, port)) {
            prop_assert!(field == "url" || field == "port", "{field}");
        }
    }

    /// `eq` matches the same text in any case, `in` matches a list holding
    /// it, `exists` matches whatever is there and not null.
    #[test]
    fn filters_match_what_they_say(value in "[a-zA-Z0-9 ]{0,20}", other in "[a-z]{21,30}", data in json_value()) {
        let event = lead(json!({"source": value, "data": data}));
        let trigger = |field: &str, op: FilterOp, value: Value| Trigger {
            event_type: "lead.created".into(),
            filters: vec![Filter { field: field.into(), op, value }],
        };
        let matches = |t: Trigger| engine::matching::trigger_matches(&t, &event);
        prop_assert!(matches(trigger("lead.source", FilterOp::Eq, json!(value.to_uppercase()))));
        prop_assert!(!matches(trigger("lead.source", FilterOp::Eq, json!(other))));
        prop_assert!(matches(trigger("lead.source", FilterOp::In, json!([other, value]))));
        prop_assert!(!matches(trigger("lead.source", FilterOp::In, json!([other]))));
        prop_assert!(matches(trigger("lead.source", FilterOp::Exists, Value::Null)));
        prop_assert!(!matches(trigger("lead.missing", FilterOp::Exists, Value::Null)));
        prop_assert_eq!(
            matches(trigger("lead.data", FilterOp::Exists, Value::Null)),
            !data.is_null()
        );
    }

    /// Any text as a custom range's dates is a range or a field error; a
    /// real pair of days in order is the range from the first day's start
    /// to the end of the last.
    #[test]
    fn report_dates_resolve_or_say_which_field(
        from in any::<String>(),
        to in any::<String>(),
        first in 0i64..2_900_000,
        length in 0i64..MAX_RANGE_DAYS,
    ) {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let custom = |from: String, to: String| RangeQuery {
            range: Some("custom".into()),
            from: Some(from),
            to: Some(to),
        };
        if let Err(e) = custom(from, to).resolve(now) {
            prop_assert!(e.field == "from" || e.field == "to", "{e:?}");
        }
        let day = |n: i64| chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(n);
        let (a, b) = (day(first), day(first + length));
        match custom(a.to_string(), b.to_string()).resolve(now) {
            Ok(range) => {
                prop_assert_eq!(range.from.date_naive(), a);
                prop_assert_eq!(range.to.date_naive(), b + chrono::Duration::days(1));
            }
            Err(e) => prop_assert!(false, "{a}..{b}: {e:?}"),
        }
    }
}
