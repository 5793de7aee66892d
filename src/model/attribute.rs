//! The user attributes scimsync manages, by name: one table that the directory readers, the
//! config, the planner, the SCIM layer and the reports all read.

/// A user attribute a source can set. Names are the ones used in the YAML directory, in CSV
/// column mappings and in the config's attribute policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attribute {
    Id,
    Email,
    UserName,
    GivenName,
    FamilyName,
    DisplayName,
    Title,
    Phone,
    Timezone,
    Locale,
    PreferredLanguage,
    UserType,
    EmployeeNumber,
    CostCenter,
    Organization,
    Division,
    Department,
    Manager,
    StartDate,
    Guest,
    Active,
    Groups,
}

impl Attribute {
    /// Every attribute, in the order reports list them.
    pub const ALL: [Attribute; 22] = [
        Attribute::Id,
        Attribute::Email,
        Attribute::UserName,
        Attribute::GivenName,
        Attribute::FamilyName,
        Attribute::DisplayName,
        Attribute::Title,
        Attribute::Phone,
        Attribute::Timezone,
        Attribute::Locale,
        Attribute::PreferredLanguage,
        Attribute::UserType,
        Attribute::EmployeeNumber,
        Attribute::CostCenter,
        Attribute::Organization,
        Attribute::Division,
        Attribute::Department,
        Attribute::Manager,
        Attribute::StartDate,
        Attribute::Guest,
        Attribute::Active,
        Attribute::Groups,
    ];

    /// The attribute's name in files (`given_name`, `manager`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Attribute::Id => "id",
            Attribute::Email => "email",
            Attribute::UserName => "user_name",
            Attribute::GivenName => "given_name",
            Attribute::FamilyName => "family_name",
            Attribute::DisplayName => "display_name",
            Attribute::Title => "title",
            Attribute::Phone => "phone",
            Attribute::Timezone => "timezone",
            Attribute::Locale => "locale",
            Attribute::PreferredLanguage => "preferred_language",
            Attribute::UserType => "user_type",
            Attribute::EmployeeNumber => "employee_number",
            Attribute::CostCenter => "cost_center",
            Attribute::Organization => "organization",
            Attribute::Division => "division",
            Attribute::Department => "department",
            Attribute::Manager => "manager",
            Attribute::StartDate => "start_date",
            Attribute::Guest => "guest",
            Attribute::Active => "active",
            Attribute::Groups => "groups",
        }
    }

    pub fn from_name(name: &str) -> Option<Attribute> {
        Attribute::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl std::fmt::Display for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
