// Check that the registry itself is checked: malformed names, duplicates and unknown keys.
auth_runtime::registry! {
    pub struct AppRegistry {
        login_types: ["user", ""],
        scopes: ["reports", "reports:read", "reports:read"],
        action: ["users:ban"],
    }
}

fn main() {}
