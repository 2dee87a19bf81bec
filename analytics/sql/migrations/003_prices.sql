-- 003: price catalog (seeded from data/prices.csv) and its edit history.
create table prices (
    price_id integer primary key,
    kind varchar not null check (kind in ('gpu', 'cpu', 'api')),
    name varchar not null,
    provider varchar not null,
    hourly_usd double check (hourly_usd is null or (hourly_usd > 0 and hourly_usd < 1000)),
    input_per_m_usd double check (input_per_m_usd is null or (input_per_m_usd > 0 and input_per_m_usd < 1000)),
    output_per_m_usd double check (output_per_m_usd is null or (output_per_m_usd >= 0 and output_per_m_usd < 1000)),
    peak_tflops double check (peak_tflops is null or peak_tflops > 0),
    memory_gb double check (memory_gb is null or memory_gb > 0),
    bandwidth_gbps double check (bandwidth_gbps is null or bandwidth_gbps > 0),
    as_of date,
    source varchar not null,
    unique (kind, name, provider),
    check ((kind = 'api') = (input_per_m_usd is not null)),
    check ((kind <> 'api') = (hourly_usd is not null))
);

create table price_edits (
    edit_id integer primary key,
    price_id integer not null,
    field varchar not null,
    old_value varchar,
    new_value varchar,
    note varchar not null,
    edited_at timestamp not null
);
