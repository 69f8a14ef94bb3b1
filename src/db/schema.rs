//! Table definitions shared by both backends (only types both support: BigInt, Text, Bool…).
//! Times are Unix epoch seconds; JSON is stored as text.

diesel::table! {
    clients (client_id) {
        client_id -> Text,
        source -> Text,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        client_name -> Text,
        redirect_uris -> Text,
        metadata -> Text,
        fingerprint -> Nullable<Text>,
        registrant_address -> Nullable<Text>,
        registrant_user_agent -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        last_seen_at -> Nullable<BigInt>,
        cimd_fetched_at -> Nullable<BigInt>,
        cimd_expires_at -> Nullable<BigInt>,
        cimd_etag -> Nullable<Text>,
        cimd_last_modified -> Nullable<Text>,
        cimd_failed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> BigInt,
        event -> Text,
        actor -> Text,
        client_id -> Nullable<Text>,
        address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    registration_tokens (token_hash) {
        token_hash -> Text,
        client_id -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    rate_limit_windows (key, window_start) {
        key -> Text,
        window_start -> BigInt,
        attempts -> Integer,
        audited -> Bool,
    }
}

diesel::table! {
    users (user_id) {
        user_id -> Text,
        email -> Nullable<Text>,
        email_lower -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        status -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        source -> Text,
        name -> Nullable<Text>,
        email_verified -> Bool,
        role -> Text,
        last_sign_in_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    login_failures (account_key) {
        account_key -> Text,
        failures -> Integer,
        last_failed_at -> BigInt,
    }
}

diesel::table! {
    device_cookies (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        failures -> Integer,
    }
}

diesel::table! {
    sessions (session_hash) {
        session_hash -> Text,
        user_id -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        auth_time -> BigInt,
        method -> Text,
    }
}

diesel::table! {
    user_identities (provider, issuer, subject) {
        provider -> Text,
        issuer -> Text,
        subject -> Text,
        user_id -> Text,
        email -> Nullable<Text>,
        created_at -> BigInt,
        last_sign_in_at -> BigInt,
    }
}

diesel::table! {
    auth_requests (request_id) {
        request_id -> Text,
        browser_hash -> Text,
        csrf_token -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        state -> Nullable<Text>,
        code_challenge -> Text,
        scope -> Text,
        resource -> Nullable<Text>,
        user_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed -> Bool,
        fresh_sign_in -> Bool,
        nonce -> Nullable<Text>,
        prompt -> Nullable<Text>,
        max_age -> Nullable<BigInt>,
        purpose -> Text,
    }
}

diesel::table! {
    upstream_logins (state_hash) {
        state_hash -> Text,
        request_id -> Text,
        provider -> Text,
        browser_hash -> Text,
        pkce_verifier -> Text,
        nonce -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Text,
        code_challenge -> Text,
        scope -> Text,
        resource -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        family_id -> Nullable<Text>,
        nonce -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key -> Text,
        public_jwk -> Text,
        status -> Text,
        created_at -> BigInt,
        activates_at -> BigInt,
        retire_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_families (family_id) {
        family_id -> Text,
        client_id -> Text,
        user_id -> Text,
        scope -> Text,
        resource -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        created_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    app_logins (challenge_hash) {
        challenge_hash -> Text,
        request_id -> Text,
        browser_hash -> Text,
        status -> Text,
        verifier_hash -> Nullable<Text>,
        user_id -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        error_description -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(registration_tokens -> clients (client_id));
diesel::joinable!(app_logins -> auth_requests (request_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(device_cookies -> users (user_id));
diesel::joinable!(user_identities -> users (user_id));
diesel::joinable!(refresh_tokens -> refresh_families (family_id));
diesel::joinable!(refresh_families -> clients (client_id));
diesel::joinable!(refresh_families -> users (user_id));
diesel::joinable!(authorization_codes -> clients (client_id));
diesel::joinable!(upstream_logins -> auth_requests (request_id));
diesel::joinable!(authorization_codes -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    app_logins,
    clients,
    registration_tokens,
    audit_events,
    rate_limit_windows,
    users,
    login_failures,
    device_cookies,
    sessions,
    user_identities,
    auth_requests,
    upstream_logins,
    authorization_codes,
    signing_keys,
    refresh_families,
    refresh_tokens,
);
