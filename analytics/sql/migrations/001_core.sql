-- 001: workspace metadata, sample market data, product event log, import catalog.
create table workspace_meta (
    key varchar primary key,
    value varchar not null
);

create table market_segments (
    segment_id integer primary key,
    region varchar not null,
    industry varchar not null,
    company_size varchar not null check (company_size in ('SMB', 'Mid-market', 'Enterprise')),
    companies integer not null check (companies >= 0),
    adoption_rate double not null check (adoption_rate between 0 and 1),
    acv_usd double not null check (acv_usd >= 0),
    growth_rate double not null check (growth_rate between -1 and 5),
    is_sample boolean not null default false,
    unique (region, industry, company_size)
);

create table competitors (
    competitor_id integer primary key,
    name varchar not null unique,
    price_per_seat_usd double not null check (price_per_seat_usd >= 0),
    cap_automation double not null check (cap_automation between 0 and 10),
    cap_accuracy double not null check (cap_accuracy between 0 and 10),
    cap_integrations double not null check (cap_integrations between 0 and 10),
    cap_analytics double not null check (cap_analytics between 0 and 10),
    capability_score double not null check (capability_score between 0 and 10),
    funding_usd_m double not null check (funding_usd_m >= 0),
    launch_year integer not null check (launch_year between 1990 and 2100),
    target_segment varchar not null,
    is_sample boolean not null default false
);

create table plans (
    plan varchar primary key,
    price_per_seat_usd double not null check (price_per_seat_usd >= 0),
    tier integer not null unique
);

create table accounts (
    account_id integer primary key,
    account_name varchar not null,
    region varchar not null,
    industry varchar not null,
    company_size varchar not null check (company_size in ('SMB', 'Mid-market', 'Enterprise')),
    signup_date date not null,
    is_sample boolean not null default false
);

create table users (
    user_id integer primary key,
    account_id integer not null,
    signup_at timestamp not null
);

-- One row per product event. user_id is null for account-level events (upgrade, downgrade, cancel, invoice).
-- No primary key index: at 10M rows it costs memory and load time; uniqueness is an invariant test.
create table events (
    event_id bigint not null,
    event_time timestamp not null,
    user_id integer,
    account_id integer not null,
    event_type varchar not null check (
        event_type in ('signup', 'activation', 'session', 'upgrade', 'downgrade', 'cancel', 'invoice')
    ),
    plan varchar,
    amount_usd double
);

create table imported_tables (
    table_name varchar primary key,
    source_file varchar not null,
    row_count bigint not null check (row_count >= 0),
    column_count integer not null check (column_count >= 1),
    detected varchar not null,
    imported_at timestamp not null
);
