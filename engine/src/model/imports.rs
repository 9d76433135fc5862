//! Data source imports: where each column of a contacts CSV goes, guessed
//! from its header and changed by the admin, and what a row makes of a
//! contact.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::records::ContactInput;

/// Where one CSV column goes: a contact field, a custom field of that
/// name, or nowhere. Written as `first_name`, `address.city`,
/// `custom:Trade-in`, `ignore`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ColumnTarget {
    Field(ContactField),
    Custom(String),
    Ignore,
}

/// A contact's own fields a column can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContactField {
    FirstName,
    LastName,
    Email,
    Phone,
    Street,
    City,
    Region,
    Postcode,
    Country,
    State,
    Source,
    Category,
    ExternalId,
}

impl ContactField {
    pub const ALL: [ContactField; 13] = [
        ContactField::FirstName,
        ContactField::LastName,
        ContactField::Email,
        ContactField::Phone,
        ContactField::Street,
        ContactField::City,
        ContactField::Region,
        ContactField::Postcode,
        ContactField::Country,
        ContactField::State,
        ContactField::Source,
        ContactField::Category,
        ContactField::ExternalId,
    ];

    /// The field's name in a mapping and in the contact's JSON.
    pub const fn key(self) -> &'static str {
        match self {
            ContactField::FirstName => "first_name",
            ContactField::LastName => "last_name",
            ContactField::Email => "email",
            ContactField::Phone => "phone",
            ContactField::Street => "address.street",
            ContactField::City => "address.city",
            ContactField::Region => "address.state",
            ContactField::Postcode => "address.postcode",
            ContactField::Country => "address.country",
            ContactField::State => "state",
            ContactField::Source => "source",
            ContactField::Category => "category",
            ContactField::ExternalId => "external_id",
        }
    }

    /// The field in words, for the mapping's picker.
    pub const fn label(self) -> &'static str {
        match self {
            ContactField::FirstName => "First name",
            ContactField::LastName => "Last name",
            ContactField::Email => "Email",
            ContactField::Phone => "Phone",
            ContactField::Street => "Street",
            ContactField::City => "City",
            ContactField::Region => "State / region (address)",
            ContactField::Postcode => "Postcode",
            ContactField::Country => "Country",
            ContactField::State => "State (of the contact, e.g. active)",
            ContactField::Source => "Source",
            ContactField::Category => "Category",
            ContactField::ExternalId => "External id",
        }
    }

    /// Header names (lower-cased, letters and digits only) that mean
    /// this field.
    const fn names(self) -> &'static [&'static str] {
        match self {
            ContactField::FirstName => &["firstname", "first", "fname", "givenname", "forename"],
            ContactField::LastName => &["lastname", "last", "lname", "surname", "familyname"],
            ContactField::Email => &["email", "emailaddress", "mail"],
            ContactField::Phone => &[
                "phone",
                "phonenumber",
                "mobile",
                "mobilephone",
                "cell",
                "cellphone",
                "tel",
                "telephone",
            ],
            ContactField::Street => &[
                "street",
                "address",
                "address1",
                "streetaddress",
                "addressline1",
            ],
            ContactField::City => &["city", "town"],
            ContactField::Region => &["state", "region", "province", "county", "addressstate"],
            ContactField::Postcode => &["zip", "zipcode", "postcode", "postalcode"],
            ContactField::Country => &["country"],
            ContactField::State => &["contactstate", "stage", "lifecyclestage"],
            ContactField::Source => &["source", "leadsource"],
            ContactField::Category => &["category"],
            ContactField::ExternalId => &["externalid", "id", "customerid", "crmid", "contactid"],
        }
    }
}

impl ColumnTarget {
    /// The target a header names, or a custom field of that name.
    pub fn guess(header: &str) -> ColumnTarget {
        let plain: String = header
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if plain.is_empty() {
            return ColumnTarget::Ignore;
        }
        ContactField::ALL
            .into_iter()
            .find(|f| f.names().contains(&plain.as_str()))
            .map(ColumnTarget::Field)
            .unwrap_or_else(|| ColumnTarget::Custom(header.trim().to_string()))
    }

    pub fn parse(text: &str) -> Option<ColumnTarget> {
        let text = text.trim();
        if text == "ignore" || text.is_empty() {
            return Some(ColumnTarget::Ignore);
        }
        if let Some(name) = text.strip_prefix("custom:") {
            let name = name.trim();
            return (!name.is_empty() && name.chars().count() <= 100)
                .then(|| ColumnTarget::Custom(name.to_string()));
        }
        ContactField::ALL
            .into_iter()
            .find(|f| f.key() == text)
            .map(ColumnTarget::Field)
    }

    pub fn key(&self) -> String {
        match self {
            ColumnTarget::Field(f) => f.key().to_string(),
            ColumnTarget::Custom(name) => format!("custom:{name}"),
            ColumnTarget::Ignore => "ignore".to_string(),
        }
    }

    /// The fields that tell one contact from another: a row must fill
    /// one of them.
    pub fn names_a_contact(&self) -> bool {
        matches!(
            self,
            ColumnTarget::Field(
                ContactField::FirstName
                    | ContactField::LastName
                    | ContactField::Email
                    | ContactField::Phone
            )
        )
    }
}

impl TryFrom<String> for ColumnTarget {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        ColumnTarget::parse(&text).ok_or_else(|| {
            format!(
                "\"{text}\" is not a place for a column: use a contact field ({}), custom:NAME or ignore",
                ContactField::ALL.map(ContactField::key).join(", ")
            )
        })
    }
}

impl From<ColumnTarget> for String {
    fn from(t: ColumnTarget) -> String {
        t.key()
    }
}

/// Puts one row's values in a contact's fields. Empty cells leave a field
/// as it is, so an import never blanks what a contact has.
pub fn apply_row(targets: &[ColumnTarget], fields: &[String], contact: &mut ContactInput) {
    for (target, value) in targets.iter().zip(fields) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let text = Some(value.to_string());
        match target {
            ColumnTarget::Ignore => {}
            ColumnTarget::Custom(name) => {
                contact
                    .custom_fields
                    .insert(name.clone(), Value::String(value.to_string()));
            }
            ColumnTarget::Field(field) => match field {
                ContactField::FirstName => contact.first_name = value.to_string(),
                ContactField::LastName => contact.last_name = value.to_string(),
                ContactField::Email => contact.email = text,
                ContactField::Phone => contact.phone = text,
                ContactField::Street => contact.address.street = text,
                ContactField::City => contact.address.city = text,
                ContactField::Region => contact.address.state = text,
                ContactField::Postcode => contact.address.postcode = text,
                ContactField::Country => contact.address.country = text,
                ContactField::State => contact.state = text,
                ContactField::Source => contact.source = text,
                ContactField::Category => contact.category = text,
                ContactField::ExternalId => contact.external_id = text,
            },
        }
    }
}

/// The value a row gives a field, if any (to find the contact it updates).
pub fn row_value<'a>(
    targets: &[ColumnTarget],
    fields: &'a [String],
    field: ContactField,
) -> Option<&'a str> {
    targets
        .iter()
        .zip(fields)
        .rev()
        .find(|(t, v)| **t == ColumnTarget::Field(field) && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_guessed_and_unknown_ones_become_custom_fields() {
        let guess = |h: &str| ColumnTarget::guess(h).key();
        assert_eq!(guess("First Name"), "first_name");
        assert_eq!(guess("E-mail Address"), "email");
        assert_eq!(guess("ZIP code"), "address.postcode");
        assert_eq!(guess("Customer ID"), "external_id");
        assert_eq!(guess("Trade-in VIN"), "custom:Trade-in VIN");
        assert_eq!(guess("  "), "ignore");
    }

    #[test]
    fn targets_parse_from_their_keys_and_refuse_unknown_ones() {
        for f in ContactField::ALL {
            assert_eq!(ColumnTarget::parse(f.key()), Some(ColumnTarget::Field(f)));
        }
        assert_eq!(
            ColumnTarget::parse("custom:Model year"),
            Some(ColumnTarget::Custom("Model year".into()))
        );
        assert_eq!(ColumnTarget::parse("custom:"), None);
        assert_eq!(ColumnTarget::parse("birthday"), None);
        let e = serde_json::from_str::<ColumnTarget>("\"birthday\"").unwrap_err();
        assert!(e.to_string().contains("custom:NAME"), "{e}");
    }

    #[test]
    fn a_row_fills_fields_and_its_empty_cells_leave_them() {
        let targets = [
            ColumnTarget::Field(ContactField::FirstName),
            ColumnTarget::Field(ContactField::Email),
            ColumnTarget::Custom("VIN".into()),
            ColumnTarget::Ignore,
        ];
        let mut contact = ContactInput {
            first_name: "Old".into(),
            phone: Some("555".into()),
            ..ContactInput::default()
        };
        let row = [
            "".to_string(),
            " ann@example.com ".into(),
            "1HGCM".into(),
            "x".into(),
        ];
        apply_row(&targets, &row, &mut contact);
        assert_eq!(contact.first_name, "Old");
        assert_eq!(contact.email.as_deref(), Some("ann@example.com"));
        assert_eq!(contact.phone.as_deref(), Some("555"));
        assert_eq!(contact.custom_fields["VIN"], "1HGCM");
        assert_eq!(
            row_value(&targets, &row, ContactField::Email),
            Some("ann@example.com")
        );
        assert_eq!(row_value(&targets, &row, ContactField::FirstName), None);
    }
}
