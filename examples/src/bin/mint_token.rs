//! Mints a token for the reference server, for trying it out before accounts exist:
//! `AUTH_USER_SECRET=... cargo run -p examples --bin mint_token -- user alice "reports:read"`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(login_type), Some(subject)) = (args.next(), args.next()) else {
        eprintln!("usage: mint_token <user|admin> <subject> [\"scope scope ...\"]");
        std::process::exit(2);
    };
    let scopes: Vec<String> = args
        .next()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect();
    let settings = examples::Settings::from_env();
    let manager = examples::manager(&settings)?;
    let token = manager.create_access_token(
        &auth_runtime::TokenRequest::new(&login_type, &subject).scopes(scopes),
    )?;
    println!("{}", token.access_token);
    Ok(())
}
