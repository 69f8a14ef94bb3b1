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

diesel::joinable!(registration_tokens -> clients (client_id));
diesel::allow_tables_to_appear_in_same_query!(clients, registration_tokens, audit_events);

diesel::table! {
    rate_limit_windows (key, window_start) {
        key -> Text,
        window_start -> BigInt,
        attempts -> Integer,
        audited -> Bool,
    }
}
